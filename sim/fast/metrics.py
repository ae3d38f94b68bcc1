"""What a simulated day measures: a :class:`Recorder` listens on the fleet's event bus and to the vehicles,
and :meth:`Recorder.metrics` sums it up as the metrics JSON (docs/simulation.md lists the fields).

The safety count is kept by an independent check: each time a vehicle leaves the last node before the crossing
on its way across, the consignments aboard must be released, and the vehicle authorized, by both authorities
according to the authorities' own ledger (:class:`sim.fast.customs.Ledger`), not according to the fleet.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fleet.events import Topic
from fleet.orders import OrderState
from fleet.orders.model import LOADED_STATES
from planner.corridor import Corridor
from sim.fast.customs import CustomsSim

__all__ = ["DemandOrder", "Recorder", "bridge_nodes_of"]


def bridge_nodes_of(corridor: Corridor) -> frozenset[str]:
    """The nodes the bridge diagram follows: the crossing lanes' ends and every node in a ``bridge`` zone, so it
    spans the whole deck (Bac Luan II's crossing lanes are 50 m of its 618 m)."""
    on_deck = {node.id for node in corridor.nodes.values() if corridor.zones[node.zone].kind == "bridge"}
    return frozenset(on_deck | {n for lane in corridor.crossing_lanes for n in (lane.source, lane.target)})


@dataclass(frozen=True)
class DemandOrder:
    """One order of the day's demand, before the fleet has it."""

    index: int
    ready_s: float
    direction: str
    pickup: str
    drop: str
    consignments: tuple[str, ...]


@dataclass
class _OrderLog:
    demand: DemandOrder
    states: list[tuple[float, str, str | None]] = field(default_factory=list)  # (t, state, vehicle)
    carrier: tuple[str, float] | None = None  # the vehicle with the load aboard, its odometer when it took it


class Recorder:
    """Collects what happened, on simulated seconds from the start of the run."""

    def __init__(self, now: Callable[[], float], customs: CustomsSim, odometer: Callable[[str], float],
                 warmup_s: float) -> None:
        self.now, self.customs, self.odometer, self.warmup_s = now, customs, odometer, warmup_s
        self.orders: dict[str, _OrderLog] = {}
        self.crossings: list[tuple[float, str, str]] = []  # (t, direction, vehicle): gate-recorded
        self.checked = 0
        self.unsafe: list[dict[str, Any]] = []
        self.alarms: Counter[str] = Counter()
        self._alarm_ids: set[int] = set()  # the fleet's alarms counted: a later change of one (cleared) is no new one
        self.loaded_m = 0.0
        self.bridge: list[tuple[float, str, str]] = []  # (t, vehicle, node) arrivals on the crossing lanes' nodes
        self.vehicle_order: dict[str, str] = {}  # vehicle -> its active order id
        self.operator_holds: list[tuple[float, float, str]] = []  # (start, end, side)
        self.outages: dict[str, list[tuple[float, float]]] = customs.outages
        self.before_crossing: set[str] = set()  # the last nodes before the crossing lanes
        self.gates: set[str] = set()
        self.left_gate: dict[str, float] = {}  # order -> when its vehicle left the gate it waited at
        self.decisions: list[tuple[float, dict[str, Any]]] = []  # gate decisions the fleet acted on

    def add_order(self, order_id: str, demand: DemandOrder) -> None:
        self.orders[order_id] = _OrderLog(demand)

    # --- listening ---------------------------------------------------------------------------------------------

    def on_bus(self, topic: str, message: dict[str, Any]) -> None:
        if topic == Topic.ORDER:
            self._order(message)
        elif topic == Topic.CROSSING and message["consignments"]:  # loads across (an empty vehicle's is recorded too)
            self.crossings.append((self.now(), message["direction"], message["vehicle_id"]))
        elif topic == Topic.ALARM and self._first_news_of(message):
            self.alarms[str(message.get("kind") or "customs")] += 1
        elif topic == Topic.DECISION:
            self.decisions.append((self.now(), message))

    def _first_news_of(self, alarm: dict[str, Any]) -> bool:
        """Is this a new alarm, not news of one counted (cleared, standing again, acknowledged)? The gate's alarms
        carry no id: each is new."""
        alarm_id = alarm.get("id") if alarm.get("source") == "fleet" else None
        if alarm_id is None:
            return True
        if alarm_id in self._alarm_ids:
            return False
        self._alarm_ids.add(alarm_id)
        return True

    def allowed_decisions(self) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        """Per vehicle, in order: each gate decision that let it cross (direction, consignments)."""
        out: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        for _, decision in self.decisions:
            if decision["crossing_allowed"]:
                out[decision["vehicle_id"]].append((decision["direction"], tuple(sorted(decision["consignments"]))))
        return dict(out)

    def _order(self, message: dict[str, Any]) -> None:
        log = self.orders.get(message["order_id"])
        if log is None:
            return
        t, state, vehicle = self.now(), str(message["to"]), message.get("vehicle_id")
        log.states.append((t, state, vehicle))
        if vehicle and state == OrderState.ASSIGNED:
            self.vehicle_order[vehicle] = message["order_id"]
        if state in LOADED_STATES and vehicle and (log.carrier is None or log.carrier[0] != vehicle):
            self._put_down(log)  # in relay, the receiver takes the load over at the pad
            log.carrier = (vehicle, self.odometer(vehicle))
        elif state in (OrderState.DELIVERED, OrderState.CANCELLED, OrderState.FAILED):
            self._put_down(log)
        if state == OrderState.AWAITING_CLEARANCE:
            for consignment in log.demand.consignments:
                self.customs.at_gate(consignment)
        if state in (OrderState.DELIVERED, OrderState.CANCELLED, OrderState.FAILED, OrderState.CREATED) \
                and vehicle and self.vehicle_order.get(vehicle) == message["order_id"]:
            del self.vehicle_order[vehicle]

    def _put_down(self, log: _OrderLog) -> None:
        """The load leaves its carrier: the metres it drove with it are loaded metres."""
        if log.carrier is not None:
            self.loaded_m += self._carried_m(log.carrier)
            log.carrier = None

    def _carried_m(self, carrier: tuple[str, float]) -> float:
        vehicle, since_m = carrier
        return self.odometer(vehicle) - since_m

    def on_arrival(self, vehicle: str, node: str, t: float, bridge_nodes: frozenset[str]) -> None:
        if node in bridge_nodes:
            self.bridge.append((t, vehicle, node))

    def on_departure(self, vehicle: str, node: str, t: float) -> None:
        """A vehicle left a gate (the end of an order's gate wait) or the last node before the crossing."""
        order_id = self.vehicle_order.get(vehicle)
        if node in self.gates:  # (cleared already: at the release past the gate, which it drives now)
            if order_id is not None and self.orders[order_id].states[-1][1] in (OrderState.AWAITING_CLEARANCE,
                                                                                OrderState.CLEARED):
                self.left_gate.setdefault(order_id, t)
        if node in self.before_crossing:
            self._check_crossing(vehicle, node, t)

    def _check_crossing(self, vehicle: str, node: str, t: float) -> None:
        """The vehicle is on its way across: check both clearances, independently of the fleet."""
        self.checked += 1
        names = self.customs.names
        aboard: tuple[str, ...] = ()
        order_id = self.vehicle_order.get(vehicle)
        if order_id is not None:
            log = self.orders[order_id]
            if log.states and log.states[-1][1] in LOADED_STATES:
                aboard = log.demand.consignments
        ledger = self.customs.ledger
        missing = [c for c in aboard if not ledger.cleared(c, names)]
        if missing or not ledger.may_cross(vehicle, names):
            self.unsafe.append({"t_s": round(t, 3), "vehicle": vehicle, "node": node, "not_cleared": missing,
                                "vehicle_authorized": ledger.may_cross(vehicle, names)})

    # --- summing up --------------------------------------------------------------------------------------------

    def metrics(self, *, scenario: dict[str, Any], duration_s: float, fleet: list[str], total_m: dict[str, float],
                charging_s: dict[str, float], kwh_per_km: float, customs_refused: dict[str, int],
                customs_sent: dict[str, int], orders_due: int, directions_ordered: Iterable[str]) -> dict[str, Any]:
        hours = duration_s / 3600
        delivered = [(log, at) for log in self.orders.values() if (at := _when(log, OrderState.DELIVERED)) is not None]
        # every direction the scenario orders in, with none ordered in the run too (0, not a missing key)
        directions = sorted(set(directions_ordered) | {log.demand.direction for log in self.orders.values()})
        crossed = Counter(d for t, d, _ in self.crossings if t >= self.warmup_s)
        per_hour = {d: [0] * math.ceil(hours) for d in directions}
        for t, d, _ in self.crossings:
            if d in per_hour:
                per_hour[d][min(int(t // 3600), len(per_hour[d]) - 1)] += 1
        counted_h = max(hours - self.warmup_s / 3600, 1e-9)
        dwell = {d: [(at - log.demand.ready_s) / 60 for log, at in delivered
                     if log.demand.direction == d] for d in directions}
        waits = [w for w in (self._gate_wait(order_id, log) for order_id, log in self.orders.items()) if w is not None]
        busy = self._busy_s(duration_s)
        total_km = sum(total_m.values()) / 1000
        loaded_km = (self.loaded_m + sum(self._carried_m(log.carrier) for log in self.orders.values()
                                         if log.carrier is not None)) / 1000  # with the loads still aboard
        states = Counter(log.states[-1][1] if log.states else "not created" for log in self.orders.values())
        containers = sum(len(log.demand.consignments) for log, _ in delivered)
        return {
            "scenario": scenario,
            "duration_h": round(hours, 3),
            "fleet_size": len(fleet),
            "orders": {"in_demand": orders_due, "created": sum(1 for log in self.orders.values() if log.states),
                       "delivered": len(delivered), "by_final_state": dict(sorted(states.items()))},
            "crossings": {"by_direction": {d: crossed.get(d, 0) for d in directions},
                          "per_hour_each_way": {d: round(crossed.get(d, 0) / counted_h, 2) for d in directions},
                          "hourly": per_hour},
            "containers_per_day": round(containers * 24 / counted_h, 1),
            "dwell_min": {d: _quantiles(v) for d, v in dwell.items()},
            "gate_wait_min": {
                "orders": len(waits),
                **_quantiles([sum(w.values()) for w in waits]),
                "by_cause_total": {c: round(sum(w[c] for w in waits), 1) for c in self.causes()},
                "by_cause_mean": {c: round(sum(w[c] for w in waits) / len(waits), 2) if waits else 0.0
                                  for c in self.causes()}},
            "vehicles": {
                "utilization": round(sum(busy.values()) / (len(fleet) * duration_s), 4) if fleet else 0.0,
                "km_total": round(total_km, 1),
                "km_loaded": round(loaded_km, 1),
                "km_empty": round(total_km - loaded_km, 1),
                "energy_kwh": round(total_km * kwh_per_km, 1),
                "charging_h": round(sum(charging_s.values()) / 3600, 2)},
            "alarms": dict(sorted(self.alarms.items())),
            "customs_events": {"sent": dict(sorted(customs_sent.items())),
                               "refused": dict(sorted(customs_refused.items()))},
            "safety": {"crossings_checked": self.checked, "gate_recorded_crossings": len(self.crossings),
                       "crossings_without_both_clearances": len(self.unsafe), "violations": self.unsafe[:20]},
        }

    def causes(self) -> list[str]:
        return [f"{side.lower()}_clearance" for side in self.customs.sides] + ["traffic", "operator_hold"]

    def _gate_wait(self, order_id: str, log: _OrderLog) -> dict[str, float] | None:
        """Minutes standing at the gate, split by cause: until the clearance that came last, that side's
        clearance; after it, a customs link down (that side's clearance), an operator's hold of the side's
        gates, and the rest: traffic (waiting for the vehicles planned before it on the crossing lanes)."""
        at_gate = _when(log, OrderState.AWAITING_CLEARANCE)
        crossing = self.left_gate.get(order_id)
        if at_gate is None or crossing is None:
            return None
        wait = dict.fromkeys(self.causes(), 0.0)
        cleared_at, last_side = at_gate, None
        for consignment in log.demand.consignments:
            for authority in self.customs.names:
                t = self.customs.delivered_release.get((consignment, authority))
                if t is not None and cleared_at < t <= crossing:
                    cleared_at, last_side = t, self.customs.side_of[authority]
        if last_side is not None:
            wait[f"{last_side.lower()}_clearance"] += cleared_at - at_gate
        rest, used = crossing - cleared_at, 0.0
        for authority, windows in self.outages.items():
            take = min(rest - used, sum(_overlap(cleared_at, crossing, s, e) for s, e in windows))
            wait[f"{self.customs.side_of[authority].lower()}_clearance"] += take
            used += take
        side = log.demand.direction.split("->")[0]
        take = min(rest - used, sum(_overlap(cleared_at, crossing, s, e) for s, e, held in self.operator_holds
                                    if held == side))
        wait["operator_hold"] += take
        wait["traffic"] += rest - used - take
        return {c: v / 60 for c, v in wait.items()}

    def _busy_s(self, duration_s: float) -> dict[str, float]:
        """Per vehicle: seconds with an order assigned (assigned until delivered, cancelled or given back)."""
        busy: dict[str, float] = defaultdict(float)
        for log in self.orders.values():
            start: tuple[float, str] | None = None
            for t, state, vehicle in log.states:
                if state == OrderState.ASSIGNED and vehicle:
                    start = (t, vehicle)
                elif state in (OrderState.DELIVERED, OrderState.CANCELLED, OrderState.FAILED, OrderState.CREATED) \
                        and start is not None:
                    busy[start[1]] += t - start[0]
                    start = None
            if start is not None:
                busy[start[1]] += duration_s - start[0]
        return busy


def _when(log: _OrderLog, state: str) -> float | None:
    return next((t for t, s, _ in log.states if s == state), None)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0, "p50": 0.0, "p95": 0.0, "mean": 0.0}
    array = np.asarray(values, dtype=float)
    return {"count": len(values), "p50": round(float(np.quantile(array, 0.5)), 2),
            "p95": round(float(np.quantile(array, 0.95)), 2), "mean": round(float(array.mean()), 2)}
