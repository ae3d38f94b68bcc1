"""The real agv_agent, started as the launch file starts it, uses exactly the ROS topics the bridge YAML carries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent


@pytest.mark.ros
@pytest.mark.slow
def test_agent_publishes_cmd_vel_and_reads_odom_where_the_bridge_connects_them(toy_map_dir, tmp_path, ros_probe):
    from agv_agent import default_params_file
    from rclpy.node import NodeNameNonExistentError

    from sim.gazebo.export import export_gazebo

    result = export_gazebo(toy_map_dir, tmp_path, count=1)
    config = yaml.safe_load(result.launch_config.read_text())
    vehicle = config["vehicles"][0]
    namespace = f"/{config['fleet_namespace']}/{vehicle['id']}"
    agent = subprocess.Popen([str(BIN / "agv_agent"), "--ros-args", "-r", f"__ns:={namespace}",
                              "--params-file", str(default_params_file()), "-p", f"vehicle_id:={vehicle['id']}",
                              "-p", f"initial_node_id:={vehicle['parking']}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    graph = ros_probe.node

    def agent_topics() -> tuple[set[str], set[str]]:
        try:
            published = graph.get_publisher_names_and_types_by_node("agv_agent", namespace)
            subscribed = graph.get_subscriber_names_and_types_by_node("agv_agent", namespace)
        except NodeNameNonExistentError:  # until the agent is discovered
            return set(), set()
        return {name for name, _ in published}, {name for name, _ in subscribed}

    try:
        assert ros_probe.spin_until(lambda: f"{namespace}/cmd_vel" in agent_topics()[0], 30), "agent not discovered"
        published, subscribed = agent_topics()
    finally:
        agent.terminate()
        agent.wait(timeout=15)
    bridge = yaml.safe_load(result.bridge.read_text())
    vehicle_entries = [e for e in bridge if e["ros_topic_name"].startswith(f"{namespace}/")]
    to_gazebo = {e["ros_topic_name"] for e in vehicle_entries if e["direction"] == "ROS_TO_GZ"}
    from_gazebo = {e["ros_topic_name"] for e in vehicle_entries if e["direction"] == "GZ_TO_ROS"}
    assert to_gazebo <= published, "the bridge forwards a command the agent never publishes"
    assert from_gazebo & subscribed == {f"{namespace}/odom"}, "the agent must read its pose from the bridged odom"
