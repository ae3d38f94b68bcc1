"""Prometheus metrics at ``/metrics`` (prometheus-client), one registry per app.

Counts that the store or the dispatcher already hold (vehicles and orders by state, customs events accepted
and refused, recent tick and planner durations) are read at scrape time, so they are right after a restart;
what happens between scrapes (gate waits, crossings) is counted from the bus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import prometheus_client as prom
import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fleet.dispatch import VehicleView
from fleet.dispatch.snapshot import Snapshot
from fleet.events import Topic
from fleet.orders import OrderState
from fleet.orders.model import seconds_held_at_gate
from fleet.services import Services
from fleet.store.schema import audit_log, orders

QUANTILES = (0.5, 0.9, 0.99)
#: Buckets of the dispatch tick histogram, fine around the 200 ms goal (seconds).
TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175,
                0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
#: Audit record kinds of a customs event's outcome, by the outcome's label.
EVENT_OUTCOMES = {"event_accepted": "accepted", "event_refused": "refused"}


def vehicle_state(view: VehicleView, waiting_at_gate: bool = False) -> str:
    """One word for the vehicle's state, the most pressing first; ``waiting_at_gate``: the vehicle is in a gate's
    queue, where standing still it is held up (by customs, the gate rule, a hold or its relay partner), not idle."""
    if not view.in_service:
        return "out_of_service"
    if view.connection != "ONLINE":
        return "offline" if view.connection else "unknown"
    if view.e_stop not in ("NONE", "", None):
        return "emergency_stop"
    if not view.operating_mode.takes_orders:
        return "manual"
    if view.errors:
        return "error"
    if view.paused:
        return "paused"
    if view.driving:
        return "driving"
    return "waiting_at_gate" if waiting_at_gate else "idle"


def vehicles_by_state(views: Snapshot) -> Counter[str]:
    """How many vehicles are in each state (:func:`vehicle_state`), from one snapshot's vehicle and gate views: a
    vehicle listed in a gate's queue waits at the gate. The console counts the same way
    (fleet/console/js/vehicle-state.js), so that ``GET /summary``, ``/metrics`` and the console agree."""
    in_queues = {entry.vehicle_id for gate in views.gates() for entry in gate.queue}
    return Counter(vehicle_state(vehicle, vehicle.id in in_queues) for vehicle in views.vehicles())


class FleetMetrics:
    def __init__(self, services: Services) -> None:
        self.registry = prom.CollectorRegistry(auto_describe=True)
        self.gate_wait = prom.Histogram("xborder_gate_wait_seconds", "What the gate held each order that crossed: its "
                                        "time awaiting clearance (from its gate to cleared)",
                                   buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600), registry=self.registry)
        self.crossings = prom.Counter("xborder_crossings", "Vehicles that entered the crossing lanes",
                                 ["direction"], registry=self.registry)
        self.tick = prom.Histogram("xborder_dispatch_tick_duration_seconds", "Dispatch tick duration, every tick "
                                   "since start", buckets=TICK_BUCKETS, registry=self.registry)
        self.clearance = prom.Histogram(
            "xborder_clearance_release_seconds", "From customs or gate news that let a vehicle waiting at its gate go "
            "to the order update releasing it past the gate (a release held by the vehicles ahead counts that wait)",
            buckets=TICK_BUCKETS, registry=self.registry)
        self._dispatcher = services.dispatcher
        self._dispatcher.tick_listeners.append(self.tick.observe)
        self._dispatcher.clearance_listeners.append(self.clearance.observe)
        self.registry.register(_ReadAtScrape(services))
        #: order -> its moves to awaiting clearance and to cleared so far, (time, state): what the gate held it
        self._at_the_gate: dict[str, list[tuple[float, str]]] = {}
        self._unsubscribe = services.bus.subscribe(self._on_bus, (Topic.ORDER, Topic.CROSSING))

    def _on_bus(self, topic: str, message: dict[str, Any]) -> None:
        if topic == Topic.CROSSING:
            self.crossings.labels(str(message.get("direction"))).inc()
            return
        order_id, move = message["order_id"], (float(message["at"]), message["to"])
        if move[1] in (OrderState.AWAITING_CLEARANCE, OrderState.CLEARED):
            self._at_the_gate.setdefault(order_id, []).append(move)
        elif move[1] == OrderState.CROSSING:  # (straight from loaded: a wait of 0)
            self.gate_wait.observe(seconds_held_at_gate([*self._at_the_gate.pop(order_id, []), move]))
        else:
            self._at_the_gate.pop(order_id, None)

    def render(self) -> bytes:
        return prom.generate_latest(self.registry)

    def close(self) -> None:
        self._unsubscribe()
        if self.tick.observe in self._dispatcher.tick_listeners:
            self._dispatcher.tick_listeners.remove(self.tick.observe)
        if self.clearance.observe in self._dispatcher.clearance_listeners:
            self._dispatcher.clearance_listeners.remove(self.clearance.observe)


class _ReadAtScrape(Collector):
    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        vehicles = GaugeMetricFamily("xborder_vehicles", "Vehicles by state", labels=["state"])
        for state, count in vehicles_by_state(self.services.dispatcher.snapshot()).items():
            vehicles.add_metric([state], count)
        yield vehicles
        by_state, by_kind = self._counts()
        order_gauge = GaugeMetricFamily("xborder_orders", "Orders by state", labels=["state"])
        for state in OrderState:
            order_gauge.add_metric([state], by_state.get(state, 0))
        yield order_gauge
        events = CounterMetricFamily("xborder_customs_events", "Customs events by outcome", labels=["outcome"])
        for kind, outcome in EVENT_OUTCOMES.items():
            events.add_metric([outcome], by_kind.get(kind, 0))
        yield events
        dispatcher = self.services.dispatcher
        yield _recent("xborder_dispatch_tick_seconds", "Dispatch tick duration, recent ticks", dispatcher.tick_seconds)
        yield _recent("xborder_planner_seconds", "Planner call duration, recent calls", dispatcher.planner_seconds)

    def _counts(self) -> tuple[dict[str, int], dict[str, int]]:
        with self.services.store.reading() as conn:
            by_state = conn.execute(sa.select(orders.c.state, sa.func.count()).group_by(orders.c.state)).all()
            by_kind = conn.execute(sa.select(audit_log.c.kind, sa.func.count())
                                   .where(audit_log.c.kind.in_(list(EVENT_OUTCOMES))).group_by(audit_log.c.kind)).all()
        return dict(by_state), dict(by_kind)  # type: ignore[arg-type]


def _recent(name: str, documentation: str, durations: Iterable[float]) -> GaugeMetricFamily:
    """Quantiles of the recent durations the dispatcher keeps (a window, not since start)."""
    gauge = GaugeMetricFamily(name, documentation, labels=["quantile"])
    values = np.fromiter(list(durations), dtype=float)
    for q in QUANTILES:
        gauge.add_metric([str(q)], float(np.quantile(values, q)) if values.size else 0.0)
    return gauge
