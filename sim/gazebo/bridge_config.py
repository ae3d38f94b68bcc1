"""The ros_gz_bridge configuration: each AGV's base topics and each gate's barrier command, as YAML entries.

Format: ros_gz_bridge's ``config_file`` (a list of ``ros_topic_name`` / ``gz_topic_name`` / types / direction).
"""

from __future__ import annotations

from collections.abc import Iterable

from sim.gazebo.topics import (
    CMD_VEL,
    ODOM,
    SCAN,
    WHEEL_ODOM,
    gz_vehicle_topic,
    ros_vehicle_topic,
)
from sim.gazebo.world import Barrier

#: name -> (ROS type, Gazebo type, direction) for each vehicle base topic.
VEHICLE_BRIDGES: dict[str, tuple[str, str, str]] = {
    CMD_VEL: ("geometry_msgs/msg/Twist", "gz.msgs.Twist", "ROS_TO_GZ"),
    ODOM: ("nav_msgs/msg/Odometry", "gz.msgs.Odometry", "GZ_TO_ROS"),
    WHEEL_ODOM: ("nav_msgs/msg/Odometry", "gz.msgs.Odometry", "GZ_TO_ROS"),
    SCAN: ("sensor_msgs/msg/LaserScan", "gz.msgs.LaserScan", "GZ_TO_ROS"),
}
BARRIER_BRIDGE = ("std_msgs/msg/Float64", "gz.msgs.Double", "ROS_TO_GZ")
CLOCK_BRIDGE = ("rosgraph_msgs/msg/Clock", "gz.msgs.Clock", "GZ_TO_ROS")


def _entry(ros_topic: str, gz_topic: str, types: tuple[str, str, str]) -> dict[str, str]:
    ros_type, gz_type, direction = types
    return {"ros_topic_name": ros_topic, "gz_topic_name": gz_topic, "ros_type_name": ros_type,
            "gz_type_name": gz_type, "direction": direction}


def bridge_entries(fleet_namespace: str, vehicle_ids: Iterable[str], barriers: Iterable[Barrier]) -> list[dict]:
    """The simulation clock, every vehicle's base topics, and every barrier's joint command."""
    entries = [_entry("/clock", "/clock", CLOCK_BRIDGE)]
    for vehicle_id in vehicle_ids:
        entries += [_entry(ros_vehicle_topic(fleet_namespace, vehicle_id, name), gz_vehicle_topic(vehicle_id, name),
                           types) for name, types in VEHICLE_BRIDGES.items()]
    entries += [_entry(b.ros_topic(fleet_namespace), b.topic, BARRIER_BRIDGE) for b in barriers]
    return entries
