"""Helper process for bench_ros_bridge.py: many simulated vehicles' ``state`` publishers in one process.

    python state_flood.py FIRST COUNT RATE_HZ SECONDS
publishes a realistic AgvState (a 6-node order in progress) for vehicles agv_FIRST..agv_FIRST+COUNT-1
at RATE_HZ each, for SECONDS, under /xborder/<id>/state.
"""

from __future__ import annotations

import sys
import time

import rclpy
from agv_agent import convert, qos
from agv_agent.protocol import OrderEdge, OrderNode, Pose, VehicleState
from agv_interfaces.msg import AgvState


def main() -> None:
    first, count, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    rclpy.init()
    node = rclpy.create_node(f"state_flood_{first}")
    ids = [f"agv_{i:04d}" for i in range(first, first + count)]
    publishers = {v: node.create_publisher(AgvState, f"/xborder/{v}/state", qos.STATE) for v in ids}
    nodes = tuple(OrderNode(f"n{k}", 2 * k, k < 3, 10.0 * k, 0.0) for k in range(6))
    edges = tuple(OrderEdge(f"e{k}", 2 * k + 1, k < 2, f"n{k}", f"n{k + 1}") for k in range(5))
    deadline = time.monotonic() + seconds
    period = 1.0 / rate
    tick = time.monotonic()
    while time.monotonic() < deadline:
        for v, publisher in publishers.items():
            state = VehicleState(v, "order", 1, "n0", 0, nodes, edges, Pose(1.0, 2.0, 0.1), (3.0, 0.0), True, False,
                                 False, 87.5, False, stamp=time.time())
            publisher.publish(convert.state_to_msg(state))
        tick += period
        time.sleep(max(0.0, tick - time.monotonic()))
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
