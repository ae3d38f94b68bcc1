"""A ROS 2 ``/clock`` for running real vehicle processes faster than real time (``use_sim_time``).

Every node started with ``use_sim_time:=true`` on the same domain then runs its timers on this clock: the
agents and simulated bases of ``xborder agents`` drive ``scale`` times faster than the wall clock, with the
very same code and rates as in real time.
"""

from __future__ import annotations

import threading
import time

import rclpy
from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock


class SimClock:
    """Publishes ``/clock`` at ``rate_hz`` (wall), advancing ``scale`` simulated seconds per wall second."""

    def __init__(self, scale: float, rate_hz: float = 200.0) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, not {scale}")
        self.scale, self.period = scale, 1.0 / rate_hz
        self._context = Context()
        rclpy.init(context=self._context)
        self._node = Node("xborder_sim_clock", context=self._context)
        self._pub = self._node.create_publisher(Clock, "/clock", QoSProfile(depth=1,
                                                                             reliability=ReliabilityPolicy.BEST_EFFORT))
        self._start_wall = time.monotonic()
        self._start_sim = time.time()  # the simulated clock starts at today's date, like the wall clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-clock", daemon=True)
        self._thread.start()

    def now(self) -> float:
        return self._start_sim + (time.monotonic() - self._start_wall) * self.scale

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            seconds = self.now()
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = int(seconds), int((seconds % 1) * 1e9)
            self._pub.publish(msg)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._node.destroy_node()
        rclpy.try_shutdown(context=self._context)
