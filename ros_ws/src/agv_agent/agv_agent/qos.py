"""QoS of the vehicle protocol's topics (docs/vehicle-protocol.md), shared by the agent and the fleet."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

#: The latest order survives a late-joining or restarted subscriber: reliable, transient local, depth 1.
ORDER = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.TRANSIENT_LOCAL)
INSTANT_ACTIONS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
STATE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
CONNECTION = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
BASE = QoSProfile(depth=10)
