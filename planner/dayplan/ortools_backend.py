"""The day problem as OR-Tools routing sees it: a start and an end node per vehicle, a pickup and a drop
node per shipment; dimensions for time (hard windows as ranges, due times as soft upper bounds priced per
second late), load (capacity) and distance (battery range); a fixed cost per vehicle used. A shipment that
cannot be placed is dropped at its penalty (required ones at a prohibitive one, so a plan always comes
back and says what it left)."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from planner.dayplan.integers import NO_ROUTE, Integral
from planner.dayplan.model import DayProblem
from planner.dayplan.result import Action, Clock, SolverAnswer

__all__ = ["solve_ortools"]

#: what leaving a required shipment costs the search: more than any plan that serves it
REQUIRED_PENALTY = 2**50
#: a price per late time unit is weighed in at least this many cost units (rounded within 0.5 %)
PRICE_UNITS = 100
#: under a CPU-time limit, the wall-clock cap (the search is stopped at its first solution after the CPU
#: budget; this only bounds a search that finds none)
WALL_CAP = 20.0


def solve_ortools(problem: DayProblem, time_limit_s: float, seed: int = 0, clock: Clock = Clock.WALL
                  ) -> SolverAnswer:
    """(``seed`` is unused: the routing search is deterministic.)"""
    vehicles, shipments = problem.vehicles, problem.shipments
    n_v = len(vehicles)
    durations, distances = Integral.of(problem).durations(problem), Integral.of(problem).distances(problem)
    scale = _fine_enough(problem, distances)
    locations = ([problem.at(v.start) for v in vehicles] + [problem.at(v.end) for v in vehicles]
                 + [problem.at(w) for s in shipments for w in (s.pickup, s.drop)])
    service = [0] * (2 * n_v) + [scale.span(t) for s in shipments for t in (s.pickup_service_s, s.drop_service_s)]
    manager = pywrapcp.RoutingIndexManager(len(locations), n_v, list(range(n_v)), list(range(n_v, 2 * n_v)))
    routing = pywrapcp.RoutingModel(manager)
    at = np.array(locations)
    finite_legs = [m[m < NO_ROUTE] for m in durations]
    horizon = _horizon(problem, scale, max((int(m.max()) for m in finite_legs if m.size), default=0))

    def matrix(values: np.ndarray, plus: list[int] | None = None, times: int = 1) -> list[list[int]]:
        full = np.minimum(values[np.ix_(at, at)], horizon)
        if plus is not None:
            full = full + np.array(plus)[:, None]
        return (full.astype(np.int64) * times).tolist()

    time_cb = {p: routing.RegisterTransitMatrix(matrix(durations[p], service)) for p in {v.profile for v in vehicles}}
    dist_cb = {p: routing.RegisterTransitMatrix(matrix(distances[p])) for p in time_cb}
    cost_cb = dist_cb if scale.cost_multiplier == 1 else {
        p: routing.RegisterTransitMatrix(matrix(distances[p], times=scale.cost_multiplier)) for p in time_cb}
    for i, v in enumerate(vehicles):
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[v.profile], i)
    routing.SetFixedCostOfAllVehicles(scale.cost(problem.costs.per_vehicle))
    routing.AddDimensionWithVehicleTransits([time_cb[v.profile] for v in vehicles], horizon, horizon, False, "time")
    schedule = routing.GetDimensionOrDie("time")
    for i, v in enumerate(vehicles):
        schedule.CumulVar(routing.Start(i)).SetRange(scale.early(v.available_s), scale.late(v.return_by_s, horizon))
        schedule.CumulVar(routing.End(i)).SetMax(scale.late(v.return_by_s, horizon))
    demand = [0] * (2 * n_v) + [d for s in shipments for d in (s.size, -s.size)]
    routing.AddDimensionWithVehicleCapacity(routing.RegisterUnaryTransitVector(demand), 0,
                                            [v.capacity for v in vehicles], True, "load")
    if any(math.isfinite(v.range_m) for v in vehicles):
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [dist_cb[v.profile] for v in vehicles], 0, [scale.metres(v.range_m, 2**62) for v in vehicles], True,
            "distance")
    solver = routing.solver()
    for k, s in enumerate(shipments):
        pickup = manager.NodeToIndex(2 * n_v + 2 * k)
        drop = manager.NodeToIndex(2 * n_v + 2 * k + 1)
        routing.AddPickupAndDelivery(pickup, drop)
        solver.Add(routing.VehicleVar(pickup) == routing.VehicleVar(drop))
        solver.Add(schedule.CumulVar(pickup) <= schedule.CumulVar(drop))
        for index, window in ((pickup, s.pickup_window), (drop, s.drop_window)):
            schedule.CumulVar(index).SetRange(scale.early(window.earliest), scale.late(window.latest, horizon))
            per_unit = scale.per_time_unit(problem.costs.late_per_s * s.priority)
            if window.soft and per_unit > 0:
                schedule.SetCumulVarSoftUpperBound(index, scale.late(window.due, horizon), per_unit)
        penalty = REQUIRED_PENALTY if s.required else scale.cost(problem.costs.unserved * s.priority)
        routing.AddDisjunction([pickup, drop], penalty, 2)
        forbidden = [i for i, v in enumerate(vehicles) if not _may_serve(problem, durations[v.profile], v, s)]
        if forbidden:
            routing.VehicleVar(pickup).RemoveValues(forbidden)
    params = pywrapcp.DefaultRoutingSearchParameters()
    strategies = routing_enums_pb2.FirstSolutionStrategy
    # insertion by the whole cost when lateness is priced (by arc cost alone it packs few vehicles, late,
    # and the local search does not get out); parallel insertion is the better start on hard windows
    params.first_solution_strategy = (strategies.LOCAL_CHEAPEST_COST_INSERTION if problem.soft_windows
                                      else strategies.PARALLEL_CHEAPEST_INSERTION)
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    wall = time_limit_s if clock == Clock.WALL else time_limit_s * WALL_CAP
    params.time_limit.FromMilliseconds(max(1, int(wall * 1000)))
    if clock == Clock.CPU:
        end = time.process_time() + time_limit_s

        def over_budget() -> None:
            if time.process_time() >= end:
                routing.solver().FinishCurrentSearch()

        routing.AddAtSolutionCallback(over_budget)
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return SolverAnswer({}, math.inf, 0, 0.0, False)
    routes: dict[str, list[tuple[int, Action]]] = {}
    driven = 0
    for i, v in enumerate(vehicles):
        index, stops = routing.Start(i), []
        while not routing.IsEnd(index):
            after = solution.Value(routing.NextVar(index))
            driven += distances[v.profile][locations[manager.IndexToNode(index)], locations[manager.IndexToNode(after)]]
            index = after
            if not routing.IsEnd(index):
                node = manager.IndexToNode(index) - 2 * n_v
                stops.append((node // 2, Action.PICKUP if node % 2 == 0 else Action.DROP))
        if stops:
            routes[v.id] = stops
        else:
            driven -= distances[v.profile][locations[i], locations[n_v + i]]
    served = {k for stops in routes.values() for k, _ in stops}
    feasible = all(k in served for k, s in enumerate(shipments) if s.required)
    return SolverAnswer(routes, scale.from_cost(solution.ObjectiveValue()) if feasible else math.inf, len(routes),
                        int(driven) / scale.distance_scale, feasible)


def _fine_enough(problem: DayProblem, distances: list[np.ndarray]) -> Integral:
    """The problem's integer scale with cost units fine enough that each price per late time unit is weighed
    within 0.5 % (at least ``PRICE_UNITS`` units), unless that would bring a plan's cost near
    ``REQUIRED_PENALTY``. Whole-unit prices (the default: a second late costs a metre) keep one unit a scaled metre.
    """
    scale = Integral.of(problem)
    prices = [p for s in problem.shipments if s.pickup_window.soft or s.drop_window.soft
              if (p := scale.exact_per_time_unit(problem.costs.late_per_s * s.priority)) > 0]
    if all(abs(p - round(p)) < 1e-9 and p >= 1 for p in prices):
        return scale
    legs = max((int(m[m < NO_ROUTE].max()) for m in distances if (m < NO_ROUTE).any()), default=0)
    plan_bound = (len(problem.vehicles) * scale.cost(problem.costs.per_vehicle)
                  + legs * 2 * (len(problem.shipments) + len(problem.vehicles))
                  + sum(scale.cost(problem.costs.unserved * s.priority) for s in problem.shipments))
    most = max(1, REQUIRED_PENALTY // (16 * max(1, plan_bound)))
    return dataclasses.replace(scale, cost_multiplier=min(most, math.ceil(PRICE_UNITS / min(prices))))


def _may_serve(problem: DayProblem, durations: np.ndarray, vehicle, shipment) -> bool:
    """Whether the vehicle's profile has a route from its start to the pickup, on to the drop, and home."""
    a, p, d, b = (problem.at(w) for w in (vehicle.start, shipment.pickup, shipment.drop, vehicle.end))
    return max(durations[a, p], durations[p, d], durations[d, b]) < NO_ROUTE


def _horizon(problem: DayProblem, scale: Integral, longest_leg: int) -> int:
    """Beyond any time a plan can need: the last finite time of the problem plus every leg and service."""
    times = [t for s in problem.shipments for w in (s.pickup_window, s.drop_window)
             for t in (w.earliest, w.latest, w.due) if math.isfinite(t)]
    times += [t for v in problem.vehicles for t in (v.available_s, v.return_by_s) if math.isfinite(t)]
    services = sum(s.pickup_service_s + s.drop_service_s for s in problem.shipments)
    return scale.early(max(times, default=0.0) + services) + longest_leg * (2 * len(problem.shipments) + 2) + 1
