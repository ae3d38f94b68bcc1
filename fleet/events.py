"""The in-process event bus: the gate, the orders and the dispatcher publish; the ZeroMQ PUB, the WebSocket
stream and the dispatch loop subscribe (DESIGN.md §8).

Delivery is synchronous on the publisher's thread, so a subscriber must be quick (hand the message to its
own queue or socket). One subscriber failing is logged and never stops the others or the publisher.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], None]


class Topic(StrEnum):
    DECISION = "decision"  # a gate decision the fleet acted on
    CROSSING = "crossing"  # a vehicle entered the crossing lanes: the custody handoff
    CLEARANCE = "clearance"  # a consignment's crossing_allowed changed
    AUTHORIZATION = "authorization"  # a vehicle's cross-border authorization changed
    ALARM = "alarm"
    ORDER = "order"  # an order transition
    VEHICLE = "vehicle"  # a vehicle's state (throttled by the dispatcher)
    GATE = "gate"  # an operator's hold or release of a gate
    CHECKPOINT = "checkpoint"  # a signed audit checkpoint (the customs authorities keep them)
    RESEND = "resend"  # seqs of an authority's stream the fleet is missing


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[Handler, frozenset[str] | None]] = []

    def subscribe(self, handler: Handler, topics: Iterable[str] | None = None) -> Callable[[], None]:
        """Call ``handler(topic, message)`` for every message (of ``topics`` only, if given); returns the
        function that unsubscribes."""
        entry = (handler, frozenset(topics) if topics is not None else None)
        with self._lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    def listened(self, topic: str) -> bool:
        """Whether any subscriber takes ``topic`` (a publisher may then skip building the message)."""
        with self._lock:
            return any(topics is None or topic in topics for _, topics in self._subscribers)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for handler, topics in subscribers:
            if topics is None or topic in topics:
                try:
                    handler(topic, message)
                except Exception:
                    log.exception("subscriber %r failed on %s", handler, topic)
