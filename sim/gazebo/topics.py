"""Topic names on both sides of the ros_gz bridge: one place, used by the models and the bridge YAML.

Gazebo side: every topic lives under ``/model/<model name>/`` so N vehicles never share one (DiffDrive and
OdometryPublisher take their topic names verbatim, not relative to the model). ROS side: the agent's
namespace ``/<fleet_namespace>/<vehicle_id>/`` (DESIGN.md §5) and ``/<fleet_namespace>/gates/<gate>/``.
"""

from __future__ import annotations

#: The vehicle's base topics, by their name relative to the vehicle namespace.
CMD_VEL, ODOM, WHEEL_ODOM, SCAN = "cmd_vel", "odom", "wheel_odom", "scan"
BARRIER_JOINT = "boom_hinge"


def gz_vehicle_topic(vehicle_id: str, name: str) -> str:
    return f"/model/{vehicle_id}/{name}"


def ros_vehicle_topic(fleet_namespace: str, vehicle_id: str, name: str) -> str:
    return f"/{fleet_namespace}/{vehicle_id}/{name}"


def barrier_gz_topic(barrier_model: str) -> str:
    """Where the gate's JointPositionController listens for the boom angle (gz.msgs.Double, radians)."""
    return f"/model/{barrier_model}/joint/{BARRIER_JOINT}/cmd_pos"


def barrier_ros_topic(fleet_namespace: str, gate_name: str) -> str:
    return f"/{fleet_namespace}/gates/{gate_name}/cmd_pos"
