"""The corridor in Gazebo Harmonic with the fleet's AGV agents driving it (ROS 2 Jazzy/Kilted + ros_gz).

First export the corridor: ``xborder gazebo export maps/bac_luan_ii --out out/gazebo --count 4``, then
``ros2 launch launch/gazebo_corridor.launch.py export_dir:=out/gazebo``. See docs/gazebo.md.

Starts: ``gz sim`` on the exported world; one ``ros_gz_sim create`` per AGV (its own model file, at its
parking spot); ``ros_gz_bridge`` with the exported bridge.yaml; one ``agv_agent`` per AGV in its namespace
``/<fleet_namespace>/<vehicle_id>``; and the gate barrier node fed by the fleet's decisions.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchContext, LaunchDescription

# The vehicle side (ros_ws/src/agv_agent, setup.py and agent_node.py), in one place: its package and executable,
# the parameter file it installs, the parameters naming the vehicle and its start node. The agent reads `odom`
# as its pose in the map frame, which is what the OdometryPublisher gives (DiffDrive's own odometry, starting
# at zero at spawn, is on `wheel_odom`).
AGENT_PACKAGE = "agv_agent"
AGENT_EXECUTABLE = "agv_agent"
AGENT_PARAMS_FILE = Path("config") / "agv.yaml"
LAUNCH_CONFIG_FILE = "gazebo.yaml"  # written by `xborder gazebo export` (sim/gazebo/export.py)


def _actions(context: LaunchContext) -> list:
    export_dir = Path(LaunchConfiguration("export_dir").perform(context)).resolve()
    config_file = export_dir / LAUNCH_CONFIG_FILE
    if not config_file.is_file():
        raise RuntimeError(f"{config_file} missing: run `xborder gazebo export MAP --out {export_dir}` first")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    gz_args = ["-r", "-s"] if LaunchConfiguration("headless").perform(context) == "true" else ["-r"]
    actions: list = [
        SetEnvironmentVariable("GZ_SIM_RESOURCE_PATH",
                               os.pathsep.join(filter(None, [str(export_dir / "models"),
                                                             os.environ.get("GZ_SIM_RESOURCE_PATH")]))),
        ExecuteProcess(cmd=["gz", "sim", *gz_args, str(export_dir / config["world_file"])], output="screen"),
        Node(package="ros_gz_bridge", executable="parameter_bridge", name="corridor_bridge", output="screen",
             parameters=[{"config_file": str(export_dir / config["bridge_file"]), "use_sim_time": True}]),
    ]
    for vehicle in config["vehicles"]:
        actions.append(Node(package="ros_gz_sim", executable="create", output="screen", arguments=[
            "-world", config["world_name"], "-file", str(export_dir / vehicle["model_file"]), "-name", vehicle["id"],
            "-x", str(vehicle["x"]), "-y", str(vehicle["y"]), "-z", str(vehicle["z"]), "-Y", str(vehicle["yaw"])]))
    if LaunchConfiguration("agents").perform(context) == "true":
        from ament_index_python.packages import get_package_share_directory

        agent_params = Path(get_package_share_directory(AGENT_PACKAGE)) / AGENT_PARAMS_FILE
        for vehicle in config["vehicles"]:
            vehicle_params = {"vehicle_id": vehicle["id"], "initial_node_id": vehicle["parking"],
                              "fleet_namespace": config["fleet_namespace"], "use_sim_time": True}
            actions.append(Node(package=AGENT_PACKAGE, executable=AGENT_EXECUTABLE, output="screen",
                                namespace=f"/{config['fleet_namespace']}/{vehicle['id']}",
                                parameters=[str(agent_params), vehicle_params]))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("export_dir", default_value="out/gazebo",
                              description="folder written by `xborder gazebo export`"),
        DeclareLaunchArgument("headless", default_value="false", description="true: gz sim server only, no GUI"),
        DeclareLaunchArgument("agents", default_value="true", description="start one agv_agent per AGV"),
        DeclareLaunchArgument("barriers", default_value="true",
                              description="drive the gate barriers from the fleet's gate decisions"),
        DeclareLaunchArgument("fleet_pub", default_value="tcp://127.0.0.1:5561",
                              description="the fleet manager's ZeroMQ PUB endpoint (customs.zmq.pub)"),
        OpaqueFunction(function=_actions),
        DeclareLaunchArgument("xborder", default_value="xborder",
                              description="the xborder command (e.g. <checkout>/.venv/bin/xborder)"),
        ExecuteProcess(cmd=[LaunchConfiguration("xborder"), "gazebo", "barriers", LaunchConfiguration("export_dir"),
                            "--fleet-pub", LaunchConfiguration("fleet_pub")],
                       output="screen", condition=IfCondition(LaunchConfiguration("barriers"))),
    ])
