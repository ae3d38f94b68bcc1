"""The day problem as PyVRP sees it: shipments (paired pickup and delivery), one depot per start or end
location, one vehicle type per group of identical vehicles, one routing profile per matrix layer.

PyVRP has hard windows only: a due time is not priced here (the result still reports lateness past it).
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict

import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxRuntime

from planner.dayplan.integers import Integral
from planner.dayplan.model import DayProblem, Vehicle
from planner.dayplan.result import Action, Clock, SolverAnswer

__all__ = ["solve_pyvrp"]

#: loads in thousandths: PyVRP caps its penalty per unit of excess load, and a whole container over
#: capacity must cost more than any detour it saves (a metre of driving is already 1000 units)
LOAD_SCALE = 1000


def solve_pyvrp(problem: DayProblem, time_limit_s: float, seed: int = 0, clock: Clock = Clock.WALL) -> SolverAnswer:
    scale = Integral.of(problem)
    data, groups = _data(problem, scale)
    stop = MaxRuntime(time_limit_s) if clock == Clock.WALL else _CpuTime(time_limit_s)
    with warnings.catch_warnings():  # "struggles to find a feasible solution": the plan's breaks say it
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = pyvrp.solve(data, stop=stop, seed=seed, collect_stats=False, display=False)
    best = result.best
    free = {t: list(ids) for t, ids in enumerate(groups)}
    routes: dict[str, list[tuple[int, Action]]] = {}
    for route in best.routes():
        vehicle = free[route.vehicle_type()].pop(0)
        routes[vehicle] = [(a.idx, Action.PICKUP if a.is_pickup() else Action.DROP)
                           for a in route.schedule() if a.is_pickup() or a.is_delivery()]
    return SolverAnswer(routes, scale.from_cost(result.cost()) if best.is_feasible() else float("inf"),
                        best.num_routes(), best.distance() / scale.distance_scale, best.is_feasible())


def _data(problem: DayProblem, scale: Integral) -> tuple[pyvrp.ProblemData, list[list[str]]]:
    travel = problem.travel
    coordinates = travel.coordinates if travel.coordinates is not None else [(0.0, 0.0)] * len(travel.locations)
    locations = [pyvrp.Location(float(x), float(y), name=name)
                 for (x, y), name in zip(coordinates, travel.locations, strict=True)]
    depot_at = {loc: i for i, loc in enumerate(dict.fromkeys(
        problem.at(w) for v in problem.vehicles for w in (v.start, v.end)))}
    depots = [pyvrp.Depot(loc, name=travel.locations[loc]) for loc in depot_at]
    kinds: dict[tuple, list[str]] = defaultdict(list)
    for v in problem.vehicles:
        kinds[_kind(v)].append(v.id)
    types = []
    fixed = scale.cost(problem.costs.per_vehicle)
    by_id = {v.id: v for v in problem.vehicles}
    for ids in kinds.values():
        v = by_id[ids[0]]
        types.append(pyvrp.VehicleType(
            num_available=len(ids), capacity=[v.capacity * LOAD_SCALE], start_depot=depot_at[problem.at(v.start)],
            end_depot=depot_at[problem.at(v.end)], fixed_cost=fixed, tw_early=scale.early(v.available_s),
            tw_late=scale.late(v.return_by_s), max_distance=scale.metres(v.range_m), unit_distance_cost=1,
            profile=v.profile, name=",".join(ids)))
    shipments = []
    for s in problem.shipments:
        shipments.append(pyvrp.Shipment(
            problem.at(s.pickup), problem.at(s.drop),
            pickup_tw_early=scale.early(s.pickup_window.earliest), pickup_tw_late=scale.late(s.pickup_window.latest),
            pickup_service_duration=scale.span(s.pickup_service_s),
            delivery_tw_early=scale.early(s.drop_window.earliest), delivery_tw_late=scale.late(s.drop_window.latest),
            delivery_service_duration=scale.span(s.drop_service_s), amount=[s.size * LOAD_SCALE],
            prize=0 if s.required else scale.cost(problem.costs.unserved * s.priority), required=s.required,
            name=s.id))
    # PyVRP's stubs spell an int64 matrix ndarray[int], which no numpy array type matches
    data = pyvrp.ProblemData(locations, [], depots, types, scale.distances(problem),  # type: ignore[arg-type]
                             scale.durations(problem), shipments=shipments)  # type: ignore[arg-type]
    return data, list(kinds.values())


class _CpuTime:
    """PyVRP stopping criterion: after ``limit_s`` of this process's CPU time."""

    def __init__(self, limit_s: float) -> None:
        self.end = time.process_time() + limit_s

    def __call__(self, best_cost: float) -> bool:
        return time.process_time() >= self.end


def _kind(v: Vehicle) -> tuple:
    return (v.start, v.end, v.capacity, v.profile, v.available_s, v.return_by_s, v.range_m)
