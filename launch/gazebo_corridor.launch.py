"""The corridor in Gazebo Harmonic with the xborder agents driving the Gazebo AGVs (full ROS 2 + ros_gz).

First export the world (it holds the AGVs at their parking spots and the gate barriers):
    xborder gazebo export maps/bac_luan_ii --out gz/bac_luan_ii --count 4
then:
    ros2 launch launch/gazebo_corridor.launch.py export_dir:=gz/bac_luan_ii

Starts ``gz sim`` on the world, one ``ros_gz_bridge`` with the generated bridge.yaml (each AGV's
cmd_vel / odom / ground_truth / scan under /<fleet>/<vehicle_id>/, and each barrier's command topic
/<fleet>/gates/<gate_id>/cmd, std_msgs/Float64: 0 closed, pi/2 open — the fleet publishes its gate
decisions there), and one agv_agent per AGV listed in vehicles.yaml (no sim_base: Gazebo is the base).
"""

from pathlib import Path

import yaml
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def _everything(context):
    export_dir = Path(LaunchConfiguration("export_dir").perform(context)).resolve()
    listing = yaml.safe_load((export_dir / "vehicles.yaml").read_text())
    world = export_dir / f"{listing['world']}.sdf"
    fleet = listing["fleet_namespace"]
    params_file = str(Path(FindPackageShare("agv_agent").perform(context)) / "config" / "agv.yaml")
    gui = LaunchConfiguration("gui").perform(context).lower() == "true"
    actions = [
        ExecuteProcess(cmd=["gz", "sim", "-r", *([] if gui else ["-s"]), str(world)], output="screen",
                       additional_env={"GZ_SIM_RESOURCE_PATH": str(export_dir / "models")}),
        Node(package="ros_gz_bridge", executable="parameter_bridge", name="xborder_gz_bridge", output="screen",
             parameters=[{"config_file": str(export_dir / "bridge.yaml"), "use_sim_time": True}]),
    ]
    for v in listing["vehicles"]:
        actions.append(Node(
            package="agv_agent", executable="agv_agent", namespace=f"/{fleet}/{v['vehicle_id']}", output="screen",
            parameters=[params_file, {"vehicle_id": v["vehicle_id"], "fleet_namespace": fleet,
                                      "initial_node_id": v["initial_node_id"], "use_sim_time": True}]))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("export_dir", description="folder written by `xborder gazebo export`"),
        DeclareLaunchArgument("gui", default_value="true"),
        OpaqueFunction(function=_everything),
    ])
