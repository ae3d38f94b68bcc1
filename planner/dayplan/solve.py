"""One entry point over both solvers; whatever the solver says, the answer is timed and costed again by
the planner's own rule (planner.dayplan.timing), so the plan tells the truth about every window it breaks."""

from __future__ import annotations

import math
import time

from planner.dayplan.model import DayProblem
from planner.dayplan.ortools_backend import solve_ortools
from planner.dayplan.pyvrp_backend import solve_pyvrp
from planner.dayplan.result import Action, Backend, Clock, DayPlan
from planner.dayplan.timing import time_route
from planner.exceptions import InvalidRequest

__all__ = ["plan_day"]

SOLVERS = {Backend.PYVRP: solve_pyvrp, Backend.ORTOOLS: solve_ortools}


def plan_day(problem: DayProblem, backend: Backend = Backend.AUTO, time_limit_s: float = 10.0, seed: int = 0,
             clock: Clock = Clock.WALL) -> DayPlan:
    """Plan the day within ``time_limit_s`` of search (model building comes on top), counted by ``clock``.

    ``Backend.AUTO`` picks PyVRP, the stronger search on Li & Lim (docs/planning.md), unless some due time
    is soft (lateness short of the hard limit has a price), which only OR-Tools models.
    """
    if not 0 < time_limit_s < math.inf:
        raise InvalidRequest(f"time_limit_s must be a finite number > 0, not {time_limit_s!r}")
    backend = Backend(backend)
    if backend == Backend.AUTO:
        backend = Backend.ORTOOLS if problem.soft_windows else Backend.PYVRP
    started = time.perf_counter()
    answer = SOLVERS[backend](problem, time_limit_s, seed, Clock(clock))
    runtime = time.perf_counter() - started
    by_id = {v.id: v for v in problem.vehicles}
    routes = tuple(time_route(problem, by_id[vid], stops) for vid, stops in answer.sequences.items() if stops)
    served = {v.shipment_id for r in routes for v in r.visits}
    unserved = tuple(s.id for s in problem.shipments if s.id not in served)
    priority = {s.id: s.priority for s in problem.shipments}
    c = problem.costs
    cost = (c.per_vehicle * len(routes) + c.per_metre * sum(r.distance_m for r in routes)
            + c.late_per_s * sum(v.late_s * priority[v.shipment_id] for r in routes for v in r.visits)
            + c.unserved * sum(priority[s] for s in unserved))
    required = {s.id for s in problem.shipments if s.required}
    carriers: dict[str, list[str]] = {}  # each route is checked alone: a container exists once across them
    for r in routes:
        for shipment_id in dict.fromkeys(v.shipment_id for v in r.visits):
            carriers.setdefault(shipment_id, []).append(r.vehicle_id)
    breaks = tuple(b for r in routes for b in r.breaks) + tuple(
        f"shipment {s} is served by more than one vehicle: {', '.join(vs)}" for s, vs in carriers.items()
        if len(vs) > 1) + tuple(f"required shipment {s} is not served{_alone(problem, s)}" for s in unserved
                                if s in required)
    return DayPlan(routes, unserved, breaks, cost, backend, answer, runtime)


def _alone(problem: DayProblem, shipment_id: str) -> str:
    """Why no vehicle serves a shipment, when none could even with nothing else to do: what breaks on the
    route of the vehicle that comes closest (fewest breaks), "" if one could."""
    k = next(i for i, s in enumerate(problem.shipments) if s.id == shipment_id)
    alone = [time_route(problem, v, [(k, Action.PICKUP), (k, Action.DROP)]) for v in problem.vehicles]
    closest = min(alone, key=lambda r: len(r.breaks), default=None)
    if closest is None or not closest.breaks:
        return ""
    return f": no vehicle could serve it even alone ({'; '.join(closest.breaks)})"
