"""The small interface the rest of the fleet uses to command vehicles and read their state, whatever carries it
(ROS 2 over DDS: :mod:`fleet.vehicles.ros_bridge`; VDA 5050 JSON over MQTT: :mod:`fleet.vehicles.mqtt_link`;
in this process: :mod:`fleet.vehicles.inprocess`)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import NamedTuple, Protocol

from agv_agent.protocol import Action, AgvError, ConnectionState, ErrorType, Factsheet, Order, VehicleState

#: the errors a vehicle reports an order or update it refused with
ORDER_REFUSALS = frozenset({ErrorType.ORDER_VALIDATION, ErrorType.ORDER_NOT_ACCEPTABLE, ErrorType.ORDER_UPDATE,
                            ErrorType.NOT_AUTOMATIC})


class VehicleLinkError(RuntimeError):
    """A link cannot do what was asked (not connected, closed)."""


class VehicleSnapshot(NamedTuple):
    """What the fleet knows of a vehicle at one instant, read at once."""

    state: VehicleState | None
    age_s: float | None  # seconds since that state arrived
    connection: str | None  # a ConnectionState, or None before the vehicle said anything
    duplicate: str | None = None  # what shows that two sources report under its id (HeaderWatch), or None


class OrderStatus(StrEnum):
    PENDING = "pending"  # sent, the vehicle's state does not show it yet
    ACCEPTED = "accepted"
    REFUSED = "refused"


def order_status(state: VehicleState | None, order_id: str, update_id: int) -> tuple[OrderStatus, AgvError | None]:
    """Whether the vehicle took order ``order_id``/``update_id``, read from its state: accepted once the state
    carries it (or a later update), refused when an error of a refusal's type (``ORDER_REFUSALS``) refers to it
    (one naming the order alone refers to each of its updates), else pending. A failed pick that names the order
    is no refusal of it."""
    if state is None:
        return OrderStatus.PENDING, None
    if state.order_id == order_id and state.order_update_id >= update_id:
        return OrderStatus.ACCEPTED, None
    for error in state.errors:
        if error.error_type not in ORDER_REFUSALS:
            continue
        refs = {r.key: r.value for r in error.references}
        if refs.get("orderId") == order_id and refs.get("orderUpdateId", str(update_id)) == str(update_id):
            return OrderStatus.REFUSED, error
    return OrderStatus.PENDING, None


class RecentFailures:
    """A link's messages or callbacks that raised: counted, and the last one said for ``memory_s`` (the link's
    :meth:`VehicleLink.trouble` while it is recent: one bad message must not mark the link troubled for good)."""

    def __init__(self, what: str, memory_s: float = 30.0) -> None:
        self.what, self.memory_s = what, memory_s
        self.count = 0
        self._at = -float("inf")

    def failed(self) -> None:
        self.count += 1
        self._at = time.monotonic()

    def said(self) -> str | None:
        """``"<what> N s ago (see the log)"`` while the last failure is recent; None otherwise."""
        ago = time.monotonic() - self._at
        return f"{self.what} {ago:.0f} s ago (see the log)" if ago <= self.memory_s else None


class PendingActions:
    """Instant actions sent but not yet acknowledged (no action state for their id): resent every ``resend_s``
    until the vehicle's state shows them, at most ``attempts`` times. Thread-safe."""

    def __init__(self, resend_s: float = 1.0, attempts: int = 10) -> None:
        self.resend_s, self.attempts = resend_s, attempts
        self._pending: dict[str, dict[str, tuple[Action, float, int]]] = {}
        self._lock = threading.Lock()

    def sent(self, vehicle_id: str, actions: list[Action]) -> None:
        now = time.monotonic()
        with self._lock:
            for action in actions:
                self._pending.setdefault(vehicle_id, {})[action.action_id] = (action, now, 1)

    def acknowledged(self, vehicle_id: str, action_ids: Iterable[str]) -> None:
        """The vehicle's state lists these action ids: they arrived."""
        with self._lock:
            pending = self._pending.get(vehicle_id)
            if pending:
                for action_id in action_ids:
                    pending.pop(action_id, None)

    def due(self) -> dict[str, list[Action]]:
        """The actions to send again now, by vehicle (each counted as one more attempt)."""
        now, due = time.monotonic(), dict[str, list[Action]]()
        with self._lock:
            for vehicle_id, pending in self._pending.items():
                for action_id, (action, at, tries) in list(pending.items()):
                    if tries >= self.attempts:
                        del pending[action_id]
                    elif now - at >= self.resend_s:
                        pending[action_id] = (action, now, tries + 1)
                        due.setdefault(vehicle_id, []).append(action)
        return due


class HeaderWatch:
    """Tells two sources reporting under one vehicle id (two vehicles set up with one id, a vendor's AGV using
    another's serial number, a forger) from one vehicle, by the ``headerId`` of its states as they arrive. VDA 5050
    counts it up with each message a vehicle sends on a topic: one vehicle's go back only when it restarts (from 0
    again), once. Two sources' counts interleave, and go back at nearly every turn from one to the other (the same
    headerId at another time counts too, two agents started together count alike): ``times`` goings back within
    ``window_s`` are two sources, said while the last ``times`` are that recent. A vehicle that has never counted
    up (some firmware sends the same headerId always) tells nothing. Before, the fleet read the two as one vehicle
    whose position jumped between two places, and its border watch judged a mix of two machines' states.
    Thread-safe: fed on the link's thread, read on the dispatch loop's."""

    def __init__(self, window_s: float = 30.0, times: int = 3, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self.times, self.clock = window_s, times, clock
        self._last: dict[str, tuple[int, float]] = {}  # vehicle -> the last state's (headerId, timestamp)
        self._counted: set[str] = set()  # vehicles whose headerId has gone up
        self._backs: dict[str, deque[tuple[float, int, int]]] = {}  # vehicle -> the last goings back (when, from, to)
        self._lock = threading.Lock()

    def heard(self, vehicle_id: str, header_id: int, stamp: float) -> None:
        """A state of ``vehicle_id`` arrived with this ``headerId`` and timestamp (seconds); every one, refused or
        not: a second source's states may be refused as from before, and still tell that it is there."""
        with self._lock:
            last = self._last.get(vehicle_id)
            self._last[vehicle_id] = (header_id, stamp)
            if last is None or (header_id, stamp) == last:  # (the very same state again: no other source)
                return
            if header_id > last[0]:
                self._counted.add(vehicle_id)
            elif vehicle_id in self._counted:
                self._backs.setdefault(vehicle_id, deque(maxlen=self.times)).append((self.clock(), last[0], header_id))

    def duplicate(self, vehicle_id: str) -> str | None:
        """What shows that two sources report as ``vehicle_id`` (in words for an operator), or None."""
        with self._lock:
            backs = list(self._backs.get(vehicle_id, ()))
        if len(backs) < self.times or self.clock() - backs[0][0] > self.window_s:
            return None
        seen = ", ".join(f"{to} after {was}" for _, was, to in backs)
        return (f"its states' headerId went back {len(backs)} times in {backs[-1][0] - backs[0][0]:.0f} s ({seen}); "
                "one vehicle's goes back only when it restarts, once")


def wait_for(predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout_s`` passes (tests, tools); whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return predicate()


class VehicleLink(Protocol):
    #: what the fleet's messages call it ("ROS 2 (DDS)", "VDA 5050 over MQTT"...)
    name: str

    def add_vehicle(self, vehicle_id: str) -> None:
        """Start talking to a vehicle (subscribe its state, prepare its order topic)."""

    def send_order(self, vehicle_id: str, order: Order) -> None:
        """Send an order or an order update (same order_id, higher order_update_id)."""

    def send_actions(self, vehicle_id: str, actions: list[Action]) -> None:
        """Send instant actions (pause, resume, cancel, emergency stop, charging, requests); resent until the
        vehicle's state acknowledges them."""

    def heartbeat(self) -> None:
        """The fleet's dispatch loop is alive (called every tick): the link keeps the vehicles' fleet-link watch
        fed while these calls come, and lets it lapse when they stop (a dead loop stops the vehicles)."""

    def state(self, vehicle_id: str) -> VehicleState | None:
        """The latest state received, or None."""

    def state_age(self, vehicle_id: str) -> float | None:
        """Seconds since the latest state arrived (the fleet's freshness watch), or None."""

    def connection(self, vehicle_id: str) -> str | None:
        """ONLINE or OFFLINE as the vehicle last said, or CONNECTIONBROKEN when it vanished without saying OFFLINE."""

    def snapshot(self, vehicle_id: str) -> VehicleSnapshot:
        """State, its age and the connection, read together (the dispatch loop's one read per vehicle)."""

    def changed_vehicles(self) -> set[str] | None:
        """The vehicles whose snapshot may have changed since the last call: any other's ``snapshot`` is the very
        object it returned before. None: the link cannot tell (a snapshot carries its age, new at every read),
        and the dispatch loop looks at every vehicle at every tick."""

    def factsheet(self, vehicle_id: str) -> Factsheet | None:
        """The vehicle's capabilities as it last published them (VDA 5050 factsheet), or None."""

    def trouble(self) -> str | None:
        """What is wrong with the link now, in words for an operator (its broker lost, its thread stopped, a
        message it could not handle lately); None: it works."""


__all__ = ["ORDER_REFUSALS", "ConnectionState", "HeaderWatch", "OrderStatus", "PendingActions", "VehicleLink",
           "VehicleLinkError", "VehicleSnapshot", "order_status", "wait_for"]
