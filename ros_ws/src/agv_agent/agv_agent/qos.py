"""QoS of the vehicle protocol's topics (docs/vehicle-protocol.md), shared by the agent and the fleet."""

from __future__ import annotations

from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy

#: A vehicle process that dies without saying OFFLINE is noticed by DDS within this lease (MQTT's last will).
CONNECTION_LEASE_S = 3.0

#: The latest order survives a late-joining or restarted subscriber: reliable, transient local, depth 1.
ORDER = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.TRANSIENT_LOCAL)
INSTANT_ACTIONS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
STATE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
CONNECTION = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                        liveliness=LivelinessPolicy.AUTOMATIC,
                        liveliness_lease_duration=Duration(seconds=CONNECTION_LEASE_S))
BASE = QoSProfile(depth=10)
