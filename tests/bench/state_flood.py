"""Helper process for bench_ros_bridge.py: many simulated vehicles' ``state`` publishers in one process.

    python state_flood.py FIRST COUNT RATE_HZ SECONDS
publishes a realistic AgvState (a 6-node order in progress) for vehicles agv_FIRST..agv_FIRST+COUNT-1
at RATE_HZ each, for SECONDS or until SIGTERM, under /xborder/<id>/state, then prints
"SENT <messages> <seconds>" (what it really achieved: the benchmark reports the offered load as measured).
"""

from __future__ import annotations

import signal
import sys
import time

import rclpy
from agv_agent import convert, qos
from agv_agent.protocol import OrderEdge, OrderNode, Pose, VehicleState
from agv_interfaces.msg import AgvState
from rclpy.signals import SignalHandlerOptions


def main() -> None:
    first, count, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    # SIGTERM (from the benchmark when its window is over, or when it dies, see tied_to_parent) ends the loop;
    # the helper still reports what it sent. rclpy's handlers would shut the context under the publishing loop.
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop.append(signum))
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node(f"state_flood_{first}")
    ids = [f"agv_{i:04d}" for i in range(first, first + count)]
    publishers = {v: node.create_publisher(AgvState, f"/xborder/{v}/state", qos.STATE) for v in ids}
    nodes = tuple(OrderNode(f"n{k}", 2 * k, k < 3, 10.0 * k, 0.0) for k in range(6))
    edges = tuple(OrderEdge(f"e{k}", 2 * k + 1, k < 2, f"n{k}", f"n{k + 1}") for k in range(5))
    start = time.monotonic()
    deadline = start + seconds
    period = 1.0 / rate
    tick, sent = start, 0
    while time.monotonic() < deadline and not stop:
        sent += len(publishers)
        for v, publisher in publishers.items():
            state = VehicleState(v, "order", 1, "n0", 0, nodes, edges, Pose(1.0, 2.0, 0.1), (3.0, 0.0), True, False,
                                 False, 87.5, False, stamp=time.time())
            publisher.publish(convert.state_to_msg(state))
        tick += period
        time.sleep(max(0.0, tick - time.monotonic()))
    print(f"SENT {sent} {time.monotonic() - start:.3f}", flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
