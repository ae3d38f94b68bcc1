"""Stop sequences evaluated for many vehicles at once: planned times, empty travel, lateness, battery.

The online mode scores every candidate trip for every vehicle with it, so a trip's reported figures come
from one rule: leave when free, wait at a pickup until the order is ready, lateness counted at the drop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from planner.assignment.model import (
    Assignment,
    EnergyModel,
    Reason,
    Stop,
    TransportOrder,
    Trip,
    VehicleStatus,
    Weights,
)
from planner.assignment.travel import TravelTimes
from planner.routing import VehicleProfile

_NEVER_DUE = np.finfo(float).max  # a pickup is never late; finite so an unreachable stop stays at inf


def objective(weights: Weights, empty_s, priority_lateness_s):
    """A trip's cost (floats or arrays alike): empty driving plus priority-weighted lateness."""
    return weights.empty_travel_per_s * empty_s + weights.lateness_per_s * priority_lateness_s


def unassigned_cost(weights: Weights, order: TransportOrder, now_s: float) -> float:
    """Leaving an order: the penalty and, with ``weights.overdue_counts_when_left``, the lateness it has already at
    ``now_s`` (it will be no less late later). Without it, an order more than the penalty's worth overdue costs
    more to carry than to leave, and is never carried again (issue #13, finding 10: a day of kim_thanh stopped
    with every vehicle free and 90 orders waiting)."""
    late_s = max(0.0, now_s - order.due_s) if weights.overdue_counts_when_left else 0.0
    return (weights.unassigned_penalty + weights.lateness_per_s * late_s) * order.priority


@dataclass(frozen=True)
class Problem:
    """One call's orders, vehicles and travel data as arrays over the nodes it touches."""

    orders: Sequence[TransportOrder]
    vehicles: Sequence[VehicleStatus]
    nodes: Sequence[str]
    times: np.ndarray  # (profiles, nodes, nodes) seconds, inf = no route
    lengths: np.ndarray  # same shape, metres
    to_charger_m: np.ndarray  # (profiles, nodes)
    profile_of: np.ndarray  # (vehicles,) index into the profile axis
    vehicle_node: np.ndarray
    pickup_node: np.ndarray
    drop_node: np.ndarray

    @classmethod
    def build(cls, travel: TravelTimes, orders: Sequence[TransportOrder], vehicles: Sequence[VehicleStatus]
              ) -> Problem:
        nodes = list(dict.fromkeys([v.node for v in vehicles] + [o.pickup for o in orders]
                                   + [o.drop for o in orders]))
        index = {n: i for i, n in enumerate(nodes)}
        profiles: list[VehicleProfile] = list(dict.fromkeys(v.profile for v in vehicles)) or [VehicleProfile()]
        tables = [travel.matrix(nodes, p) for p in profiles]
        return cls(
            orders=orders, vehicles=vehicles, nodes=nodes,
            times=np.stack([t for t, _ in tables]), lengths=np.stack([length for _, length in tables]),
            to_charger_m=np.stack([travel.to_charger_m(nodes, p) for p in profiles]),
            profile_of=np.array([profiles.index(v.profile) for v in vehicles], dtype=int),
            vehicle_node=np.array([index[v.node] for v in vehicles], dtype=int),
            pickup_node=np.array([index[o.pickup] for o in orders], dtype=int),
            drop_node=np.array([index[o.drop] for o in orders], dtype=int),
        )


@dataclass(frozen=True)
class Evaluated:
    """K stop sequences of m stops each, driven by each of V vehicles: arrays of shape (V, K[, m])."""

    service_s: np.ndarray  # (V, K, m) planned time at each stop
    empty_s: np.ndarray  # (V, K) the drive to the first pickup
    driven_m: np.ndarray  # (V, K) inf if some leg has no route for that vehicle
    lateness_s: np.ndarray  # (V, K, m) zero at pickups
    cost: np.ndarray  # (V, K) inf if no route
    battery_ok: np.ndarray  # (V, K) the battery stays above the reserve to the nearest charger after it, and
    # the vehicle's payload takes the loads

    @property
    def feasible_cost(self) -> np.ndarray:
        """The cost, ``inf`` where the vehicle cannot drive the sequence or its battery cannot."""
        return np.where(self.battery_ok, self.cost, np.inf)


def evaluate(problem: Problem, weights: Weights, energy: EnergyModel, start_s: np.ndarray, order_at: np.ndarray,
             is_pickup: np.ndarray, vehicles: np.ndarray | None = None) -> Evaluated:
    """Time and score stop sequences ``order_at``/``is_pickup`` (K, m) for vehicles leaving at ``start_s`` (V,).

    ``vehicles`` (V,) picks rows of ``problem.vehicles`` (default: all).
    """
    o = problem.orders
    vehicles = np.arange(len(problem.vehicles)) if vehicles is None else vehicles
    start_node = problem.vehicle_node[vehicles]
    battery = np.array([problem.vehicles[v].battery for v in vehicles.tolist()])
    ready = np.array([x.ready_s for x in o])[order_at] if o else np.zeros(order_at.shape)
    due = np.array([x.due_s for x in o])[order_at] if o else np.zeros(order_at.shape)
    priority = np.array([x.priority for x in o])[order_at] if o else np.zeros(order_at.shape)
    ready = np.where(is_pickup, ready, -np.inf)
    due = np.where(is_pickup, _NEVER_DUE, due)
    stop_node = np.where(is_pickup, problem.pickup_node[order_at], problem.drop_node[order_at])

    p = problem.profile_of[vehicles][:, None]
    first = stop_node[None, :, 0]
    empty = problem.times[p, start_node[:, None], first]
    driven = problem.lengths[p, start_node[:, None], first]
    t = np.maximum(start_s[:, None] + empty, ready[None, :, 0])
    service = [t]
    for j in range(1, order_at.shape[1]):
        a, b = stop_node[None, :, j - 1], stop_node[None, :, j]
        t = np.maximum(t + problem.times[p, a, b], ready[None, :, j])
        driven = driven + problem.lengths[p, a, b]
        service.append(t)
    service_s = np.stack(service, axis=-1)
    lateness = np.maximum(service_s - due[None], 0.0)
    cost = objective(weights, empty, (lateness * priority[None]).sum(axis=-1))
    after = driven + problem.to_charger_m[p, stop_node[None, :, -1]]
    ok = np.isfinite(after) & (battery[:, None] - energy.fraction_per_km * after / 1000.0 >= energy.reserve)
    mass = np.array([x.mass_kg for x in o])[order_at] if o else np.zeros(order_at.shape)
    aboard = np.where(is_pickup, mass, 0.0).sum(axis=-1)  # every load of the sequence, at most, at once
    ok &= aboard[None, :] <= np.array([problem.vehicles[int(v)].payload_kg for v in vehicles])[:, None]
    return Evaluated(service_s, empty, driven, lateness, cost, ok)


def singles(order_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each order alone: pickup then drop."""
    order_at = np.repeat(np.arange(order_count)[:, None], 2, axis=1)
    return order_at, np.tile(np.array([True, False]), (order_count, 1))


def make_trip(problem: Problem, ev: Evaluated, row: int, col: int, vehicle_id: str, order_at: Sequence[int]
              ) -> Trip:
    """The :class:`Trip` for sequence ``col`` (its orders ``order_at``, the first time an order appears is its
    pickup) as driven by the vehicle in row ``row`` of ``ev``."""
    is_pickup = [k not in order_at[:j] for j, k in enumerate(order_at)]
    stops = tuple(
        Stop(problem.orders[k].id, "pickup" if up else "drop",
             problem.orders[k].pickup if up else problem.orders[k].drop, float(ev.service_s[row, col, j]))
        for j, (k, up) in enumerate(zip(order_at, is_pickup)))
    return Trip(vehicle_id, stops, tuple(dict.fromkeys(s.order_id for s in stops)), float(ev.empty_s[row, col]),
                float(ev.lateness_s[row, col].sum()), float(ev.driven_m[row, col]), float(ev.cost[row, col]))


def reasons(problem: Problem, single: Evaluated, able: np.ndarray) -> list[Reason]:
    """Why each order would be left: nobody may drive it, nobody able has the battery, or not chosen.

    ``single`` holds each order alone for every vehicle; ``able`` (V,) marks vehicles allowed to take orders.
    """
    routable = np.isfinite(single.driven_m).any(axis=0)
    doable = np.isfinite(single.feasible_cost[able]).any(axis=0)
    return [Reason.NOT_CHOSEN if d else Reason.BATTERY if r else Reason.NO_ROUTE for r, d in zip(routable, doable)]


def finish(trips: Sequence[Trip], orders: Sequence[TransportOrder], weights: Weights, why: Sequence[Reason],
           to_charger: Mapping[str, str], optimal: bool, now_s: float, lower_bound: float | None = None
           ) -> Assignment:
    """The :class:`Assignment`: every order not on a trip is listed with its reason; the exact cost."""
    served = {k for t in trips for k in t.orders}
    left = {o.id: r for o, r in zip(orders, why) if o.id not in served}
    cost = sum(t.cost for t in trips) + sum(unassigned_cost(weights, o, now_s) for o in orders if o.id in left)
    bound = cost if optimal else -math.inf if lower_bound is None else min(float(lower_bound), cost)
    return Assignment(tuple(trips), dict(to_charger), left, float(cost), optimal, float(bound))
