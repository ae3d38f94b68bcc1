"""QoS of the vehicle protocol's topics (docs/vehicle-protocol.md), shared by the agent and the fleet."""

from __future__ import annotations

from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy

#: A vehicle process that dies without saying OFFLINE is noticed by DDS within this lease (MQTT's last will).
CONNECTION_LEASE_S = 3.0

#: Orders are volatile: a restarted vehicle must not be handed (and drive) its last order again; it reports
#: no order and the fleet sends it a new one from where it stands (VDA 5050: MQTT orders are not retained).
ORDER = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.VOLATILE)
INSTANT_ACTIONS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
#: Heartbeats on their own topic: only the latest matters, and however many are missed, no instant action is
#: pushed out of a queue by them.
HEARTBEAT = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
#: The factsheet is retained (MQTT) / transient local (DDS): a fleet that starts later still reads it.
FACTSHEET = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
STATE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
CONNECTION = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                        liveliness=LivelinessPolicy.AUTOMATIC,
                        liveliness_lease_duration=Duration(seconds=CONNECTION_LEASE_S))
BASE = QoSProfile(depth=10)
