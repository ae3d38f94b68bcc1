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
    """Publishes ``/clock``, advancing ``scale`` simulated seconds per wall second in steps of ``step_s``.

    A ROS timer fires at most once per clock message, so the step must not exceed the shortest timer period of
    the nodes on this clock (the agent's control period, 0.05 s at 20 Hz): with coarser steps they would run
    fewer control steps than they think, and move slower than ``scale``. The cost is ``scale / step_s``
    messages a second to every node.
    """

    def __init__(self, scale: float, step_s: float = 0.05) -> None:
        if scale <= 0 or step_s <= 0:
            raise ValueError(f"scale and step_s must be positive, not {scale} and {step_s}")
        self.scale, self.step_s, self.period = scale, step_s, step_s / scale
        self.steps = 0
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
        """Simulated seconds: whole steps only, so that no step is skipped when the machine is busy (simulated
        time then runs slower than ``scale``, never coarser)."""
        return self._start_sim + self.steps * self.step_s

    def _run(self) -> None:
        while not self._stop.wait(max(0.0, self._start_wall + (self.steps + 1) * self.period - time.monotonic())):
            self.steps += 1
            seconds = self.now()
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = int(seconds), int((seconds % 1) * 1e9)
            self._pub.publish(msg)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._node.destroy_node()
        rclpy.try_shutdown(context=self._context)
