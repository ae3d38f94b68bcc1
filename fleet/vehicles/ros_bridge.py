"""The fleet's ROS 2 bridge: one rclpy node, spun on a background thread, behind :class:`VehicleLink`.

Per vehicle it publishes ``order`` (reliable, volatile), ``instant_actions`` and ``heartbeat`` and subscribes
``state``, ``connection`` and ``factsheet`` under ``/<fleet_namespace>/<vehicle_id>/``. Everything is filed
under the vehicle of the topic it came on, whatever the payload's serial number says; two agents publishing on
one vehicle's topics are told by their states' header ids (:class:`HeaderWatch`).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable

import rclpy
from agv_agent import convert, qos
from agv_agent.protocol import Action, ConnectionState, Factsheet, Order, VehicleState
from agv_interfaces.msg import AgvState, Connection, Heartbeat, InstantActions
from agv_interfaces.msg import Factsheet as FactsheetMsg
from agv_interfaces.msg import Order as OrderMsg
from rclpy.context import Context
from rclpy.event_handler import QoSLivelinessChangedInfo, SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.publisher import Publisher

from fleet.vehicles.link import HeaderWatch, PendingActions, RecentFailures, VehicleSnapshot, wait_for

logger = logging.getLogger(__name__)


class RosFleetBridge:
    """Implements :class:`fleet.vehicles.VehicleLink` over DDS. Thread-safe; call :meth:`close` when done."""

    name = "ROS 2 (DDS)"

    def __init__(self, fleet_namespace: str = "xborder", node_name: str = "xborder_fleet",
                 on_state: Callable[[str], None] | None = None, heartbeat_s: float = 1.0,
                 alive_window_s: float = 3.0) -> None:
        self.namespace = fleet_namespace.strip("/")
        self.on_state = on_state
        self._context = Context()
        rclpy.init(context=self._context)
        self._node = Node(node_name, context=self._context)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._lock = threading.Lock()
        self._order_pubs: dict[str, Publisher[OrderMsg]] = {}
        self._action_pubs: dict[str, Publisher[InstantActions]] = {}
        self._states: dict[str, tuple[AgvState, float]] = {}  # latest message, monotonic arrival
        self._converted: dict[str, tuple[AgvState, VehicleState]] = {}  # the last message read, converted
        self._heartbeat_pubs: dict[str, Publisher[Heartbeat]] = {}
        self._connections: dict[str, str] = {}
        self._factsheets: dict[str, FactsheetMsg] = {}
        self._broken: set[str] = set()  # vehicles whose agent vanished without saying OFFLINE
        self._header_ids: dict[tuple[str, str], itertools.count] = {}
        self.headers = HeaderWatch()  # the states' header ids: two agents started with one vehicle_id
        self.received = 0
        self.failures = RecentFailures("a ROS 2 bridge callback failed")
        self.alive_window_s = alive_window_s
        self._alive_at = -float("inf")  # when the dispatch loop last said it is alive (heartbeat())
        self._beats = itertools.count()
        self.pending = PendingActions(resend_s=heartbeat_s)
        self._node.create_timer(heartbeat_s, self._heartbeat)
        self._thread = threading.Thread(target=self._spin, name="ros-bridge", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        """Spin until :meth:`close`. A callback that raises is logged and the spinning goes on: one bad message
        must not silence every vehicle's states and the fleet's heartbeats."""
        while self._context.ok():
            try:
                self._executor.spin_once(timeout_sec=0.1)
            except ExternalShutdownException:
                return
            except Exception:
                if not self._context.ok():
                    return  # close() shut the context down under a wait: that ends the spin as intended
                self._failed()

    def _failed(self) -> None:
        self.failures.failed()
        logger.exception("ROS bridge callback failed; spinning on")

    def trouble(self) -> str | None:
        """The spin thread stopped, or a callback failed lately (:class:`RecentFailures`); None: all well."""
        if not (self._thread.is_alive() and self._context.ok()):
            return "the ROS 2 bridge has stopped: no vehicle state comes in, no order goes out"
        return self.failures.said()

    def _next_header(self, vehicle_id: str, topic: str) -> int:
        with self._lock:
            return next(self._header_ids.setdefault((vehicle_id, topic), itertools.count()))

    def _topic(self, vehicle_id: str, name: str) -> str:
        return f"/{self.namespace}/{vehicle_id}/{name}"

    def add_vehicle(self, vehicle_id: str) -> None:
        with self._lock:
            if vehicle_id in self._order_pubs:
                return
            self._order_pubs[vehicle_id] = self._node.create_publisher(
                OrderMsg, self._topic(vehicle_id, "order"), qos.ORDER, event_callbacks=qos.NO_PUBLISHER_EVENTS)
            self._action_pubs[vehicle_id] = self._node.create_publisher(
                InstantActions, self._topic(vehicle_id, "instant_actions"), qos.INSTANT_ACTIONS,
                event_callbacks=qos.NO_PUBLISHER_EVENTS)
            self._heartbeat_pubs[vehicle_id] = self._node.create_publisher(
                Heartbeat, self._topic(vehicle_id, "heartbeat"), qos.HEARTBEAT, event_callbacks=qos.NO_PUBLISHER_EVENTS)
        self._node.create_subscription(FactsheetMsg, self._topic(vehicle_id, "factsheet"),
                                       lambda msg: self._on_factsheet(vehicle_id, msg), qos.FACTSHEET,
                                       event_callbacks=qos.NO_SUBSCRIPTION_EVENTS)
        self._node.create_subscription(AgvState, self._topic(vehicle_id, "state"),
                                       lambda msg: self._on_state(vehicle_id, msg), qos.STATE,
                                       event_callbacks=qos.NO_SUBSCRIPTION_EVENTS)
        self._node.create_subscription(
            Connection, self._topic(vehicle_id, "connection"), lambda msg: self._on_connection(vehicle_id, msg),
            qos.CONNECTION,
            event_callbacks=SubscriptionEventCallbacks(
                liveliness=lambda info: self._on_liveliness(vehicle_id, info), use_default_callbacks=False))

    def _on_connection(self, vehicle_id: str, msg: Connection) -> None:
        with self._lock:  # filed under the topic's vehicle: what a payload claims to be cannot hide a vehicle
            self._connections[vehicle_id] = msg.connection_state

    def _on_liveliness(self, vehicle_id: str, info: QoSLivelinessChangedInfo) -> None:
        """DDS liveliness of the vehicle's connection writer: lost (lease expired) is VDA 5050's CONNECTIONBROKEN;
        a writer that left cleanly is not counted as lost, and a vehicle that comes back is alive again."""
        with self._lock:
            if info.alive_count == 0 and info.not_alive_count_change > 0:
                self._broken.add(vehicle_id)
                logger.warning("vehicle %s: connection broken (no DDS liveliness for %.0f s)", vehicle_id,
                               qos.CONNECTION_LEASE_S)
            elif info.alive_count > 0:
                self._broken.discard(vehicle_id)

    def _on_factsheet(self, vehicle_id: str, msg: FactsheetMsg) -> None:
        with self._lock:
            self._factsheets[vehicle_id] = msg

    def heartbeat(self) -> None:
        """The dispatch loop is alive: the timer sends heartbeats for :attr:`alive_window_s` from now."""
        self._alive_at = time.monotonic()

    def _heartbeat(self) -> None:
        """Timer: heartbeats on each vehicle's own topic while the loop is alive; resends of unacknowledged
        instant actions."""
        for vehicle_id, actions in self.pending.due().items():
            self._publish_actions(vehicle_id, actions)
        if time.monotonic() - self._alive_at > self.alive_window_s:
            return  # the dispatch loop is dead or stuck: the vehicles must notice
        with self._lock:
            publishers = list(self._heartbeat_pubs.values())
        beat = Heartbeat(stamp=convert.to_time(time.time()), header_id=next(self._beats))
        for publisher in publishers:
            publisher.publish(beat)

    def _on_state(self, vehicle_id: str, msg: AgvState) -> None:
        # Keep the message and convert when it is read: most states are superseded before anyone asks. The
        # callback only wakes its reader (the dispatch loop): nothing slow may run on the heartbeat's thread.
        self.headers.heard(vehicle_id, msg.header_id, convert.from_time(msg.stamp))
        with self._lock:
            self._states[vehicle_id] = (msg, time.monotonic())
            self.received += 1
        self.pending.acknowledged(vehicle_id, (a.action_id for a in msg.action_states))
        if self.on_state:
            self.on_state(vehicle_id)

    def send_order(self, vehicle_id: str, order: Order) -> None:
        self.add_vehicle(vehicle_id)
        self._order_pubs[vehicle_id].publish(convert.order_to_msg(
            order, time.time(), self._next_header(vehicle_id, "order"), serial=vehicle_id))

    def send_actions(self, vehicle_id: str, actions: list[Action]) -> None:
        self.add_vehicle(vehicle_id)
        self.pending.sent(vehicle_id, actions)
        self._publish_actions(vehicle_id, actions)

    def _publish_actions(self, vehicle_id: str, actions: list[Action]) -> None:
        self._action_pubs[vehicle_id].publish(convert.actions_to_msg(
            actions, time.time(), self._next_header(vehicle_id, "instant_actions"), serial=vehicle_id))

    def factsheet(self, vehicle_id: str) -> Factsheet | None:
        with self._lock:
            msg = self._factsheets.get(vehicle_id)
        return convert.factsheet_from_msg(msg) if msg else None

    def state(self, vehicle_id: str) -> VehicleState | None:
        with self._lock:
            entry = self._states.get(vehicle_id)
        return convert.state_from_msg(entry[0]) if entry else None

    def state_age(self, vehicle_id: str) -> float | None:
        with self._lock:
            entry = self._states.get(vehicle_id)
        return time.monotonic() - entry[1] if entry else None

    def connection(self, vehicle_id: str) -> str | None:
        with self._lock:
            return ConnectionState.CONNECTIONBROKEN if vehicle_id in self._broken else self._connections.get(vehicle_id)

    def changed_vehicles(self) -> None:
        """Cannot tell: each snapshot carries the state's age (``VehicleLink.changed_vehicles``)."""
        return None

    def snapshot(self, vehicle_id: str) -> VehicleSnapshot:
        """State, age and connection read together. A message is converted once, however often it is read:
        the dispatch loop reads every vehicle on every tick, and the same state again is then the same object."""
        with self._lock:  # one read: state, age and connection belong together
            entry = self._states.get(vehicle_id)
            connection = ConnectionState.CONNECTIONBROKEN if vehicle_id in self._broken \
                else self._connections.get(vehicle_id)
            age = time.monotonic() - entry[1] if entry else None
            converted = self._converted.get(vehicle_id)
        duplicate = self.headers.duplicate(vehicle_id)
        if entry is None:
            return VehicleSnapshot(None, age, connection, duplicate)
        if converted is None or converted[0] is not entry[0]:
            converted = (entry[0], convert.state_from_msg(entry[0]))
            with self._lock:
                self._converted[vehicle_id] = converted
        return VehicleSnapshot(converted[1], age, connection, duplicate)

    def subscribers(self, vehicle_id: str) -> int:
        """How many vehicles listen to this vehicle's order topic (1 once its agent is discovered)."""
        self.add_vehicle(vehicle_id)
        return self._order_pubs[vehicle_id].get_subscription_count()

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
        return wait_for(predicate, timeout_s, poll_s)

    def close(self) -> None:
        # Stop the spinning thread before destroying what it spins: shutting the context down ends spin()
        # (ExternalShutdownException); destroying first would pull handles from under a running callback.
        rclpy.try_shutdown(context=self._context)
        self._thread.join(timeout=5)
        self._executor.shutdown(timeout_sec=2)
        self._node.destroy_node()
