"""The ros_gz_bridge configuration: each AGV's cmd_vel, odom, ground truth and lidar, and each gate
barrier's command, under the same names on both sides (the agent's namespace /<fleet>/<vehicle_id>/)."""

from __future__ import annotations

from planner.corridor import Corridor, NodeKind
from sim.gazebo.agv_model import AgvTopics
from sim.gazebo.world import gate_command_topic
from sim.ros_fleet import VehicleSpec

#: (ROS type, Gazebo type, direction) of each bridged topic kind.
TYPES = {
    "cmd_vel": ("geometry_msgs/msg/Twist", "gz.msgs.Twist", "ROS_TO_GZ"),
    "odom": ("nav_msgs/msg/Odometry", "gz.msgs.Odometry", "GZ_TO_ROS"),
    "ground_truth": ("nav_msgs/msg/Odometry", "gz.msgs.Odometry", "GZ_TO_ROS"),
    "scan": ("sensor_msgs/msg/LaserScan", "gz.msgs.LaserScan", "GZ_TO_ROS"),
    "gate": ("std_msgs/msg/Float64", "gz.msgs.Double", "ROS_TO_GZ"),
}


def _entry(topic: str, kind: str) -> dict[str, str]:
    ros_type, gz_type, direction = TYPES[kind]
    return {"ros_topic_name": topic, "gz_topic_name": topic, "ros_type_name": ros_type, "gz_type_name": gz_type,
            "direction": direction}


def bridge_entries(corridor: Corridor, fleet_namespace: str, vehicles: list[VehicleSpec]) -> list[dict[str, str]]:
    entries = []
    for v in vehicles:
        topics = AgvTopics.for_vehicle(fleet_namespace, v.vehicle_id)
        entries += [_entry(topics.cmd_vel, "cmd_vel"), _entry(topics.odom, "odom"),
                    _entry(topics.ground_truth, "ground_truth"), _entry(topics.scan, "scan")]
    entries += [_entry(gate_command_topic(fleet_namespace, g.id), "gate") for g in corridor.nodes_of(NodeKind.GATE)]
    return entries
