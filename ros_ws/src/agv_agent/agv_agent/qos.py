"""QoS of the vehicle protocol's topics (docs/vehicle-protocol.md), shared by the agent and the fleet."""

from __future__ import annotations

from rclpy.duration import Duration
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
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

#: No QoS event handlers on an endpoint. rclpy gives every publisher and subscription two by default (incompatible
#: QoS, incompatible type: a warning in the log), and each is a waitable the executor walks in Python on every
#: wait: 2,600 for the fleet's bridge with 200 vehicles, 60 % of a core with the fleet idle (docs/operations.md).
#: An endpoint whose QoS or type does not match is not hidden by leaving them out: its messages never arrive, and
#: the vehicle is alarmed as silent (or the agent hears no heartbeat and stops).
NO_PUBLISHER_EVENTS = PublisherEventCallbacks(use_default_callbacks=False)
NO_SUBSCRIPTION_EVENTS = SubscriptionEventCallbacks(use_default_callbacks=False)
