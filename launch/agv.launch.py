"""One AGV on a full ROS 2 install: the agv_agent node and, unless a real or Gazebo base provides
cmd_vel/odom, the simulated base, under /<fleet_namespace>/<vehicle_id>.

    ros2 launch launch/agv.launch.py vehicle_id:=agv_001 x:=12.0 y:=-2370.0 initial_node_id:=vn_parking_1
    ros2 launch launch/agv.launch.py vehicle_id:=agv_001 sim_base:=false      # a real base or Gazebo
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = {
    "vehicle_id": "agv_001",
    "fleet_namespace": "xborder",
    "initial_node_id": "",
    "x": "0.0",
    "y": "0.0",
    "theta": "0.0",
    "sim_base": "true",
    "params_file": "",
}


def generate_launch_description() -> LaunchDescription:
    config = {name: LaunchConfiguration(name) for name in ARGUMENTS}
    params_file = PathJoinSubstitution([FindPackageShare("agv_agent"), "config", "agv.yaml"])
    namespace = ["/", config["fleet_namespace"], "/", config["vehicle_id"]]
    common = {"vehicle_id": config["vehicle_id"], "fleet_namespace": config["fleet_namespace"]}
    return LaunchDescription([
        *[DeclareLaunchArgument(name, default_value=default) for name, default in ARGUMENTS.items()],
        Node(package="agv_agent", executable="agv_agent", namespace=namespace, output="screen",
             parameters=[params_file, {**common, "initial_node_id": config["initial_node_id"]}]),
        Node(package="agv_agent", executable="sim_base", namespace=namespace, output="screen",
             condition=IfCondition(config["sim_base"]),
             parameters=[params_file, {"x": config["x"], "y": config["y"], "theta": config["theta"]}]),
    ])
