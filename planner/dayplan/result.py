"""What a day plan answers: each vehicle's route, timed by the planner's own rule (not the solver's
figures), with every window, capacity, range and return it breaks spelled out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Action", "Backend", "Clock", "DayPlan", "Route", "SolverAnswer", "Visit"]


class Backend(StrEnum):
    """The solver behind :func:`~planner.dayplan.plan_day`."""

    PYVRP = "pyvrp"  # iterated local search; hard windows only (lateness past a due time is reported, not priced)
    ORTOOLS = "ortools"  # routing with guided local search; prices lateness past a due time
    AUTO = "auto"  # PyVRP unless some due time is soft (before its hard limit), then OR-Tools


class Clock(StrEnum):
    """What a time limit counts: seconds on the wall, or seconds of this process's CPU (a benchmark on a
    shared machine, where other work would otherwise take the search's time)."""

    WALL = "wall"
    CPU = "cpu"


class Action(StrEnum):
    PICKUP = "pickup"
    DROP = "drop"


@dataclass(frozen=True)
class Visit:
    """One stop: the vehicle arrives, waits until it may start, serves, leaves. ``late_s``: past the soft
    due time; ``broken_s``: past the hard latest (a window the plan breaks); ``load``: on board after."""

    shipment_id: str
    action: Action
    location: str
    arrive_s: float
    start_s: float
    depart_s: float
    load: int
    late_s: float
    broken_s: float


@dataclass(frozen=True)
class Route:
    """One vehicle's day: from its start at ``depart_s`` through ``visits`` to its end at ``return_s``."""

    vehicle_id: str
    visits: tuple[Visit, ...]
    depart_s: float
    return_s: float
    distance_m: float
    driving_s: float
    breaks: tuple[str, ...]  # every hard rule this route breaks, in words; empty if it keeps them all

    @property
    def late_s(self) -> float:
        return sum(v.late_s for v in self.visits)


@dataclass(frozen=True)
class SolverAnswer:
    """What a solver proposed and what it says of it, in its own (rounded, integer) figures: kept beside
    the planner's own timing so a benchmark can show both."""

    sequences: dict[str, list[tuple[int, Action]]]  # vehicle id -> (shipment index, action) in driving order
    cost: float  # the solver's objective, in the problem's cost units (inf if it found no plan)
    vehicles: int
    distance_m: float
    feasible: bool


@dataclass(frozen=True)
class DayPlan:
    """Routes of the vehicles used, shipments left unserved; ``cost`` recomputed from the routes by the
    planner's rule; ``solver`` is what the solver said of its own answer."""

    routes: tuple[Route, ...]
    unserved: tuple[str, ...]
    breaks: tuple[str, ...]  # every hard rule broken (routes' and required shipments unserved), in words
    cost: float
    backend: Backend
    solver: SolverAnswer
    runtime_s: float

    @property
    def vehicles_used(self) -> int:
        return len(self.routes)

    @property
    def distance_m(self) -> float:
        return sum(r.distance_m for r in self.routes)

    @property
    def late_s(self) -> float:
        return sum(r.late_s for r in self.routes)

    @property
    def feasible(self) -> bool:
        return not self.breaks
