"""Online assignment for the dispatch loop: at most one trip per vehicle now, solved exactly with CP-SAT.

A trip is one load: a 40' container, or one or two 20' containers on board together (both pickups, then
both drops, in the best of the four orders). Every candidate trip is scored for every vehicle with numpy,
dominated candidates are dropped, and CP-SAT picks the best set (each vehicle and each order at most
once): a weighted set packing, proved optimal within its model in milliseconds at dispatch sizes.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Collection, Iterable
from typing import NamedTuple

import networkx as nx
import numpy as np
from ortools.sat.python import cp_model

from planner.assignment.chargers import send_to_chargers
from planner.assignment.model import (
    Assignment,
    EnergyModel,
    TransportOrder,
    VehicleStatus,
    Weights,
    validate_request,
)
from planner.assignment.prepare import prepare, travel_for
from planner.assignment.travel import TravelTimes
from planner.assignment.trips import Evaluated, evaluate, finish, make_trip, unassigned_cost

__all__ = ["assign_online", "chargers_only"]

#: CP-SAT needs integer costs: objective units are scaled by this and rounded.
SCALE = 1000
#: The four ways to carry two 20' containers together: (first, second) pickup, then (first, second) drop,
#: as indices into the pair (a, b).
_TWO_ON_BOARD = ((0, 1, 0, 1), (0, 1, 1, 0), (1, 0, 0, 1), (1, 0, 1, 0))


def assign_online(graph: nx.DiGraph, orders: Iterable[TransportOrder], vehicles: Iterable[VehicleStatus],
                  chargers: Collection[str], energy: EnergyModel, weights: Weights = Weights(), now_s: float = 0.0,
                  time_limit_s: float = 0.15, travel: TravelTimes | None = None, pairs: bool = True,
                  max_trips: int | None = None, work_limit: float | None = None) -> Assignment:
    """Give each vehicle at most one trip now, minimising empty travel, lateness and unassigned orders.

    Parameters
    ----------
    graph : the corridor graph.
    orders : orders waiting for a vehicle.
    vehicles : vehicles free now or soon (a trip starts at ``max(now_s, free_at_s)``).
    chargers : charger nodes free to receive a vehicle; vehicles below ``energy.low`` take no order and
        are sent to one of them (see :func:`~planner.assignment.chargers.send_to_chargers`).
    energy, weights : battery model and objective.
    time_limit_s : budget for the whole call; CP-SAT gets what is left of it after scoring the candidates.
        ``Assignment.optimal`` says whether optimality was proved in time, ``Assignment.lower_bound``
        how far from optimal the answer can be otherwise.
    travel : travel times to reuse between calls (built for ``graph``); a new one if omitted.
    pairs : whether a trip may carry two orders' 20' containers together; False gives every trip one order
        (for a caller whose vehicles carry one order at a time).
    max_trips : give out at most this many trips now (None: no limit), the best of them; low-battery vehicles
        still go to chargers. A relay dispatcher keeps vehicles free this way to receive what is on its way.
    work_limit : CP-SAT's deterministic time limit (its own unit, about a second of work) in place of
        ``time_limit_s``: the same answer however busy the machine is (the simulator's fast mode, which must
        write the same metrics for a seed). None: the wall clock's ``time_limit_s``.

    Raises
    ------
    InvalidRequest : an unknown node, a repeated id, a node given as charger that is not one.
    """
    deadline = time.perf_counter() + time_limit_s
    ready = prepare(graph, orders, vehicles, chargers, energy, weights, now_s, travel)
    orders, vehicles, able, to_charger = ready.orders, ready.vehicles, ready.able, ready.to_charger
    problem, start_s, single, why = ready.problem, ready.start_s, ready.single, ready.why
    rows = np.flatnonzero(able)
    if not len(orders) or not len(rows):
        return finish([], orders, weights, why, to_charger, optimal=True, now_s=now_s)

    penalty = np.array([unassigned_cost(weights, o, now_s) for o in orders])
    single_cost = single.feasible_cost[rows]
    candidates = [_Candidate(r, single, r, o, (o, o), value)
                  for i, r in enumerate(rows.tolist()) for o, value in _worth(single_cost[i] - penalty)]
    small = [k for k, o in enumerate(orders) if o.teu == 1] if pairs else []
    small_pairs = list(itertools.combinations(small, 2))
    if small_pairs:
        pair_at = np.array([[(a, b)[s] for s in seq] for a, b in small_pairs for seq in _TWO_ON_BOARD])
        pair_up = np.tile(np.array([True, True, False, False]), (len(pair_at), 1))
        pair = evaluate(problem, weights, energy, start_s[rows], pair_at, pair_up, vehicles=rows)
        by_seq = pair.feasible_cost.reshape(len(rows), len(small_pairs), len(_TWO_ON_BOARD))
        best = by_seq.argmin(axis=2)
        cost = by_seq.min(axis=2)
        a, b = np.array(small_pairs).T
        # a pair no cheaper than doing one of its orders alone and leaving the other can never help
        bound = np.minimum(penalty[a] + penalty[b],
                           np.minimum(single_cost[:, a] + penalty[b], single_cost[:, b] + penalty[a]))
        col = np.arange(len(small_pairs)) * len(_TWO_ON_BOARD) + best
        value = cost - penalty[a] - penalty[b]
        for i, q in zip(*(k.tolist() for k in np.nonzero(cost < bound))):
            candidates.append(_Candidate(rows[i], pair, i, int(col[i, q]), tuple(pair_at[col[i, q]].tolist()),
                                         float(value[i, q])))

    chosen, optimal, bound = _pack(candidates, len(vehicles), len(orders), deadline, max_trips, work_limit)
    trips = [make_trip(problem, c.evaluated, c.row, c.col, vehicles[c.vehicle].id, c.order_at)
             for c in sorted(chosen, key=lambda c: c.vehicle)]
    return finish(trips, orders, weights, why, to_charger, optimal, now_s, penalty.sum() + bound)


def chargers_only(graph: nx.DiGraph, orders: Iterable[TransportOrder], vehicles: Iterable[VehicleStatus],
                  chargers: Collection[str], energy: EnergyModel, travel: TravelTimes | None = None) -> dict[str, str]:
    """``assign_online(..., max_trips=0).to_charger`` (the same checks of the request, the same exceptions), without
    scoring every trip for every vehicle that no trip will come of: a dispatcher with no trip to give out (its
    gate lanes full) still sends its low vehicles to chargers, in most of its assignment rounds on a busy day."""
    orders, vehicles = list(orders), list(vehicles)
    validate_request(graph, orders, vehicles, chargers)
    return send_to_chargers(travel_for(graph, travel), [v for v in vehicles if not v.battery >= energy.low], chargers,
                            energy)


class _Candidate(NamedTuple):
    """A trip for one vehicle: column ``col`` of row ``row`` in ``evaluated``; ``value`` is its cost minus
    the penalties of the orders it serves (negative: worth doing)."""

    vehicle: int
    evaluated: Evaluated
    row: int
    col: int
    order_at: tuple[int, ...]
    value: float


def _pack(candidates: list[_Candidate], vehicle_count: int, order_count: int, deadline: float,
          max_trips: int | None = None, work_limit: float | None = None) -> tuple[list[_Candidate], bool, float]:
    """The best set of candidates using each vehicle and each order at most once, and at most ``max_trips``
    of them (CP-SAT), whether it is proved optimal, and the solver's lower bound on the sum of the chosen
    values. CP-SAT stops at ``deadline`` (``time.perf_counter``), or after ``work_limit`` if one is given.

    The greedy packing (best value first) is given as a hint, so a solution exists from the start
    and the search improves on it. Probing is off: on these models it spends the whole budget before the
    search starts.
    """
    if not candidates or max_trips == 0:
        return [], True, 0.0
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"c{k}") for k in range(len(candidates))]
    by_vehicle: list[list] = [[] for _ in range(vehicle_count)]
    by_order: list[list] = [[] for _ in range(order_count)]
    for var, c in zip(x, candidates):
        by_vehicle[c.vehicle].append(var)
        for o in set(c.order_at):
            by_order[o].append(var)
    for group in by_vehicle + by_order:
        if len(group) > 1:
            model.add_at_most_one(group)
    if max_trips is not None:
        model.add(cp_model.LinearExpr.sum(x) <= max_trips)
    model.minimize(cp_model.LinearExpr.weighted_sum(x, [round(c.value * SCALE) for c in candidates]))
    greedy = _greedy(candidates, max_trips)
    for var, hinted in zip(x, greedy):
        if hinted:  # the rest are implied zeros: every candidate shares a vehicle or order with a hinted one
            model.add_hint(var, True)
    solver = cp_model.CpSolver()
    if work_limit is None:
        solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), 0.005)
    else:
        solver.parameters.max_deterministic_time = work_limit
    solver.parameters.num_workers = 1
    solver.parameters.cp_model_probing_level = 0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):  # out of time before its first solution
        return [c for c, taken in zip(candidates, greedy) if taken], False, -math.inf
    chosen = [c for c, var in zip(candidates, x) if solver.boolean_value(var)]
    return chosen, status == cp_model.OPTIMAL, solver.best_objective_bound / SCALE


def _greedy(candidates: list[_Candidate], max_trips: int | None = None) -> list[bool]:
    """Take candidates best value first while their vehicle and orders are still free (up to ``max_trips``)."""
    taken = [False] * len(candidates)
    vehicles: set[int] = set()
    orders: set[int] = set()
    for k in sorted(range(len(candidates)), key=lambda k: candidates[k].value):
        c = candidates[k]
        if max_trips is not None and len(vehicles) >= max_trips:
            break
        if c.vehicle not in vehicles and orders.isdisjoint(c.order_at):
            taken[k] = True
            vehicles.add(c.vehicle)
            orders.update(c.order_at)
    return taken


def _worth(values: np.ndarray) -> list[tuple[int, float]]:
    """(index, value) of the negative values: candidates better than leaving their orders."""
    keep = np.flatnonzero(values < 0)
    return list(zip(keep.tolist(), values[keep].tolist()))
