"""N simulated AGVs on a full ROS 2 install, placed at the corridor map's parking spots (the same
placement ``xborder agents`` uses on the pip-only install).

    ros2 launch launch/fleet_sim.launch.py count:=10 map:=maps/kim_thanh

Without ``map:=`` the shipped default map is used, found from the installed package (not the working
directory): ``fleet.maps.default_map_folder()``.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def _vehicles(context):
    from pathlib import Path

    from fleet.maps import default_map_folder, load_corridor
    from sim.ros_fleet import parking_spots

    count = int(LaunchConfiguration("count").perform(context))
    fleet = LaunchConfiguration("fleet_namespace").perform(context)
    params_file = str(Path(FindPackageShare("agv_agent").perform(context)) / "config" / "agv.yaml")
    actions = []
    corridor = load_corridor(Path(LaunchConfiguration("map").perform(context) or default_map_folder()))
    for spec in parking_spots(corridor, count):
        namespace = f"/{fleet}/{spec.vehicle_id}"
        actions += [
            Node(package="agv_agent", executable="agv_agent", namespace=namespace, parameters=[
                params_file, {"vehicle_id": spec.vehicle_id, "fleet_namespace": fleet,
                              "initial_node_id": spec.node_id}]),
            Node(package="agv_agent", executable="sim_base", namespace=namespace, parameters=[
                params_file, {"x": spec.x, "y": spec.y, "theta": spec.theta}]),
        ]
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("count", default_value="5"),
        DeclareLaunchArgument("map", default_value="", description="corridor folder (default: the shipped map)"),
        DeclareLaunchArgument("fleet_namespace", default_value="xborder"),
        OpaqueFunction(function=_vehicles),
    ])
