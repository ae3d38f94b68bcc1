"""Batch assignment of a day's orders: trips in sequence per vehicle, with OR-Tools' routing solver.

A pickup-and-delivery problem with time windows: each order is a pickup node and a drop node on the same
vehicle, pickup first; a load dimension holds the 2 TEU capacity, a time dimension the ready times (hard,
the vehicle waits) and due times (soft, lateness paid per second times priority), an energy dimension the
battery down to the reserve including the drive to the nearest charger at the end. An order no vehicle
takes costs its unassigned penalty (a disjunction).

Charging during the day is not modelled: one plan is one shift on the charge a vehicle starts with, and
vehicles charge between shifts. Vehicles below ``energy.low`` are sent to charge first, as online.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable

import networkx as nx
import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from planner.assignment.model import (
    Assignment,
    EnergyModel,
    Reason,
    TransportOrder,
    Trip,
    VehicleStatus,
    Weights,
)
from planner.assignment.prepare import prepare
from planner.assignment.travel import TravelTimes
from planner.assignment.trips import Problem, evaluate, finish, make_trip, unassigned_cost

__all__ = ["assign_batch"]

#: The routing solver needs integers: costs in hundredths of objective units, energy in 1e-5 of a charge.
COST_SCALE = 100
ENERGY_SCALE = 100_000


def assign_batch(graph: nx.DiGraph, orders: Iterable[TransportOrder], vehicles: Iterable[VehicleStatus],
                 chargers: Collection[str], energy: EnergyModel, weights: Weights = Weights(), now_s: float = 0.0,
                 time_limit_s: float = 10.0, travel: TravelTimes | None = None) -> Assignment:
    """Plan every vehicle's sequence of trips for a set of orders (a shift, a day).

    Same inputs and result as :func:`~planner.assignment.online.assign_online`, but a vehicle may get many
    trips, returned in driving order. The solver is a heuristic (cheapest insertion, then guided local
    search until ``time_limit_s``): ``optimal`` is always False. Its arc cost is the driving time (times
    ``weights.empty_travel_per_s``), since the solver cannot tell an empty lane from a loaded one; the
    loaded part is nearly fixed by the orders, so this mostly minimises empty driving. The trips' reported
    figures and ``Assignment.cost`` are recomputed exactly with the online rule.
    """
    ready = prepare(graph, orders, vehicles, chargers, energy, weights, now_s, travel)
    orders, able, to_charger, problem = ready.orders, ready.able, ready.to_charger, ready.problem
    start_s, single, why = ready.start_s, ready.single, ready.why
    fleet = np.flatnonzero(able)
    planned = [k for k, r in enumerate(why) if r == Reason.NOT_CHOSEN]
    if not len(fleet) or not planned:
        return finish([], orders, weights, why, to_charger, optimal=False)
    routes = _solve(problem, weights, energy, start_s, single, fleet, planned, time_limit_s)
    trips = [trip for v, route in zip(fleet, routes) for trip in _trips(problem, weights, energy, v, start_s[v], route)]
    return finish(trips, orders, weights, why, to_charger, optimal=False)


def _solve(problem: Problem, weights: Weights, energy: EnergyModel, start_s: np.ndarray, single, fleet: np.ndarray,
           planned: list[int], time_limit_s: float) -> list[list[int]]:
    """Each fleet vehicle's route as the order indices it visits (an order's first visit is its pickup).

    Routing nodes: one start per vehicle, one shared end ("wherever the last drop is"), then a pickup and
    a drop node per planned order.
    """
    orders = problem.orders
    n_v = len(fleet)
    end = n_v
    stop_order = [k for k in planned for _ in (0, 1)]
    at = np.concatenate([problem.vehicle_node[fleet], [0],
                         [problem.pickup_node[k] if i % 2 == 0 else problem.drop_node[k]
                          for i, k in enumerate(stop_order)]]).astype(int)
    manager = pywrapcp.RoutingIndexManager(len(at), n_v, list(range(n_v)), [end] * n_v)
    routing = pywrapcp.RoutingModel(manager)
    horizon = math.ceil(max([o.due_s for o in orders] + list(start_s)) + 86_400)

    def matrix(values: np.ndarray, to_end: np.ndarray, scale: float) -> list[list[int]]:
        """Integer transits between routing nodes, rounded up; the end is reached at ``to_end``'s price."""
        full = values[np.ix_(at, at)] * scale
        full[:, end] = to_end[at] * scale
        full[end, :] = 0
        return np.where(np.isfinite(full), np.ceil(full), horizon * scale).astype(np.int64).tolist()

    profiles = problem.profile_of[fleet]
    never = np.zeros(len(problem.nodes))
    time_cb, cost_cb, energy_cb = {}, {}, {}
    for p in set(profiles.tolist()):
        time_cb[p] = routing.RegisterTransitMatrix(matrix(problem.times[p], never, 1))
        cost_cb[p] = routing.RegisterTransitMatrix(matrix(problem.times[p], never,
                                                          weights.empty_travel_per_s * COST_SCALE))
        energy_cb[p] = routing.RegisterTransitMatrix(matrix(problem.lengths[p], problem.to_charger_m[p],
                                                            energy.fraction_per_km / 1000 * ENERGY_SCALE))
    for v, p in enumerate(profiles.tolist()):
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[p], v)
    routing.AddDimensionWithVehicleTransits([time_cb[p] for p in profiles.tolist()], horizon, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    battery = [int((problem.vehicles[v].battery - energy.reserve) * ENERGY_SCALE) for v in fleet]
    routing.AddDimensionWithVehicleTransitAndCapacity([energy_cb[p] for p in profiles.tolist()], 0, battery, True,
                                                      "energy")
    load = [0] * (n_v + 1) + [orders[k].teu * (1 if i % 2 == 0 else -1) for i, k in enumerate(stop_order)]
    routing.AddDimensionWithVehicleCapacity(routing.RegisterUnaryTransitVector(load), 0, [2] * n_v, True, "load")

    for v in range(n_v):
        time.CumulVar(routing.Start(v)).SetRange(math.ceil(start_s[fleet[v]]), horizon)
    allowed_rows = np.isfinite(single.feasible_cost[fleet])
    for i, k in enumerate(planned):
        o = orders[k]
        pickup, drop = manager.NodeToIndex(n_v + 1 + 2 * i), manager.NodeToIndex(n_v + 2 + 2 * i)
        routing.AddPickupAndDelivery(pickup, drop)
        routing.solver().Add(routing.VehicleVar(pickup) == routing.VehicleVar(drop))
        routing.solver().Add(time.CumulVar(pickup) <= time.CumulVar(drop))
        time.CumulVar(pickup).SetMin(math.ceil(o.ready_s))
        time.SetCumulVarSoftUpperBound(drop, int(o.due_s), round(weights.lateness_per_s * o.priority * COST_SCALE))
        routing.AddDisjunction([pickup, drop], round(unassigned_cost(weights, o) * COST_SCALE), 2)
        # SetAllowedVehiclesForIndex's binding rejects every argument in ortools 9.15; this is the same
        forbidden = np.flatnonzero(~allowed_rows[:, k]).tolist()
        if forbidden:
            routing.VehicleVar(pickup).RemoveValues(forbidden)

    params = pywrapcp.DefaultRoutingSearchParameters()
    # cheapest insertion by cost: on a day of orders it finds a first solution far faster than parallel insertion
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_COST_INSERTION
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(int(time_limit_s * 1000), 1))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return [[] for _ in range(n_v)]
    routes = []
    for v in range(n_v):
        index, route = solution.Value(routing.NextVar(routing.Start(v))), []
        while not routing.IsEnd(index):
            route.append(stop_order[manager.IndexToNode(index) - n_v - 1])
            index = solution.Value(routing.NextVar(index))
        routes.append(route)
    return routes


def _trips(problem: Problem, weights: Weights, energy: EnergyModel, vehicle: int, start_s: float, route: list[int]
           ) -> list[Trip]:
    """Cut a vehicle's route into trips where it is empty again, and time them one after the other."""
    trips, node, t, aboard, piece = [], problem.vehicle_node[vehicle], start_s, set(), []
    for k in route:
        piece.append(k)
        aboard ^= {k}
        if aboard:
            continue
        order_at = np.array([piece])
        is_pickup = np.array([[k not in piece[:j] for j, k in enumerate(piece)]])
        ev = evaluate(problem, weights, energy, np.array([t]), order_at, is_pickup, vehicles=np.array([vehicle]),
                      start_node=np.array([node]))
        trips.append(make_trip(problem, ev, 0, 0, problem.vehicles[vehicle].id, piece))
        node, t, piece = problem.drop_node[piece[-1]], float(ev.service_s[0, 0, -1]), []
    return trips
