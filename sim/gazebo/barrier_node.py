"""A ROS 2 node that raises and lowers the Gazebo gate barriers as the fleet decides crossings.

It subscribes to the fleet's ZeroMQ PUB socket (``decision`` messages) and publishes each barrier's boom
angle (std_msgs/Float64, radians) on the ROS topic that ``bridge.yaml`` carries to the barrier's
JointPositionController. Every position is re-sent each ``period_s`` so a bridge that starts late catches up.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import yaml
import zmq

from sim.gazebo.barriers import BarrierSchedule

log = logging.getLogger(__name__)
DECISION_TOPIC = b"decision"


def run_barrier_node(launch_config: Path, fleet_pub: str, hold_open_s: float, period_s: float = 1.0) -> None:
    """Run until interrupted (Ctrl-C, SIGTERM via ROS shutdown)."""
    import rclpy
    from rclpy.node import Node
    from std_msgs.msg import Float64

    config = yaml.safe_load(launch_config.read_text(encoding="utf-8"))
    schedule = BarrierSchedule({b["gate"]: b["directions"] for b in config["barriers"]}, hold_open_s)
    rclpy.init()
    node = Node("gate_barriers", namespace=f"/{config['fleet_namespace']}")
    publishers = {b["gate"]: node.create_publisher(Float64, b["ros_topic"], 10) for b in config["barriers"]}
    socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.SUBSCRIBE, DECISION_TOPIC)
    socket.connect(fleet_pub)
    sent: dict[str, float] = {}
    next_refresh = 0.0
    try:
        while rclpy.ok():
            if socket.poll(timeout=100):
                _topic, payload = socket.recv_multipart()
                schedule.on_decision(json.loads(payload), time.monotonic())
            now = time.monotonic()
            positions = schedule.positions(now)
            refresh = now >= next_refresh
            for gate, angle in positions.items():
                if refresh or sent.get(gate) != angle:
                    publishers[gate].publish(Float64(data=angle))
                    if sent.get(gate) != angle:
                        log.info("gate %s barrier -> %.2f rad", gate, angle)
                    sent[gate] = angle
            if refresh:
                next_refresh = now + period_s
    except KeyboardInterrupt:
        pass
    finally:
        socket.close()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
