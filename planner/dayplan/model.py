"""What a day plan is asked: containers to move between locations, the vehicles that may move them, what
things cost, and the travel matrices between every location (one layer per vehicle profile).

Times are seconds, distances metres, on the planner's own clock. Sizes and capacities are integers in one
unit the caller picks so every container is whole in it (TEU: 20' = 1, 40' = 2; or feet: 20, 40, 45).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from planner.exceptions import InvalidRequest

__all__ = ["Costs", "DayProblem", "Shipment", "TravelMatrix", "Vehicle", "Window"]

#: the largest time (s), distance (m) or size a problem may hold (31 years, a million km), and the largest cost,
#: in metres driven, of one vehicle, one second late or one shipment left: the solvers count integer ms, mm
#: and thousandths of a metre's cost in int64, horizons and sums included (planner.dayplan.integers)
LARGEST = 1e9
LARGEST_COST_M = 1e12


def _figure(what: str, value: float, unbounded: bool = False) -> None:
    """Refuse a time or distance that is not a number from 0 to LARGEST (or inf, where ``unbounded``)."""
    if not (0 <= value <= LARGEST or (unbounded and value == math.inf)):
        raise InvalidRequest(f"{what} must be a number from 0 to {LARGEST:g}{' or inf' * unbounded}, not {value!r}")


def _units(what: str, value: int) -> None:
    """Refuse a size or capacity that is not a whole number from 1 to LARGEST."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= LARGEST:
        raise InvalidRequest(f"{what} must be a whole number from 1 to {LARGEST:g}, not {value!r}")


@dataclass(frozen=True)
class Window:
    """When service at a stop may start: never before ``earliest`` (the vehicle waits), never after
    ``latest`` (hard); after ``due`` (soft) every second late is paid (``Costs.late_per_s``)."""

    earliest: float = 0.0
    latest: float = math.inf
    due: float = math.inf

    def __post_init__(self) -> None:
        _figure("window earliest", self.earliest)
        _figure("window latest", self.latest, unbounded=True)
        _figure("window due", self.due, unbounded=True)
        if not self.latest >= self.earliest:
            raise InvalidRequest(f"window latest {self.latest!r} is before earliest {self.earliest!r}")
        if not self.due >= self.earliest:
            raise InvalidRequest(f"window due {self.due!r} is before earliest {self.earliest!r}")

    @property
    def soft(self) -> bool:
        """Whether lateness short of the hard limit is paid for (a due time before ``latest``)."""
        return self.due < self.latest


@dataclass(frozen=True)
class Shipment:
    """One container from ``pickup`` to ``drop`` on one vehicle, picked up first, ``size`` units of its
    capacity on board in between. ``priority`` multiplies its lateness and its unserved penalty."""

    id: str
    pickup: str
    drop: str
    size: int = 1
    pickup_window: Window = Window()
    drop_window: Window = Window()
    pickup_service_s: float = 0.0
    drop_service_s: float = 0.0
    priority: float = 1.0
    required: bool = True  # False: it may be left unserved, at Costs.unserved * priority

    def __post_init__(self) -> None:
        _units(f"shipment {self.id}: size", self.size)
        _figure(f"shipment {self.id}: pickup_service_s", self.pickup_service_s)
        _figure(f"shipment {self.id}: drop_service_s", self.drop_service_s)
        if not 0 < self.priority < math.inf:
            raise InvalidRequest(f"shipment {self.id}: priority must be a finite number > 0, not {self.priority!r}")


@dataclass(frozen=True)
class Vehicle:
    """A vehicle available from ``available_s`` at ``start`` that must end its day at ``end`` (a parking or
    charging area) by ``return_by_s``. ``range_m``: what its battery lets it drive above the reserve, the
    drive back to ``end`` included. ``profile`` is its layer of the travel matrices: a vehicle without
    cross-border authorization has a layer where crossing pairs have no route."""

    id: str
    start: str
    end: str
    capacity: int
    profile: int = 0
    available_s: float = 0.0
    return_by_s: float = math.inf
    range_m: float = math.inf

    def __post_init__(self) -> None:
        _units(f"vehicle {self.id}: capacity", self.capacity)
        _figure(f"vehicle {self.id}: available_s", self.available_s)
        _figure(f"vehicle {self.id}: return_by_s", self.return_by_s, unbounded=True)
        _figure(f"vehicle {self.id}: range_m", self.range_m, unbounded=True)
        if self.return_by_s < self.available_s:
            raise InvalidRequest(f"vehicle {self.id}: return_by_s {self.return_by_s} is before available_s "
                                 f"{self.available_s}")


@dataclass(frozen=True)
class Costs:
    """The objective: each vehicle used, each metre driven, each second late past a due time (times the
    shipment's priority), each optional shipment left unserved (times its priority)."""

    per_vehicle: float = 0.0
    per_metre: float = 1.0
    late_per_s: float = 1.0
    unserved: float = 1e6

    def __post_init__(self) -> None:
        if not 0 < self.per_metre < math.inf:
            raise InvalidRequest(f"costs per_metre must be a finite number > 0, not {self.per_metre!r}")
        for name in ("per_vehicle", "late_per_s", "unserved"):
            if not 0 <= getattr(self, name) < math.inf:
                raise InvalidRequest(f"costs {name} must be a finite number >= 0, not {getattr(self, name)!r}")


@dataclass(frozen=True)
class TravelMatrix:
    """Seconds and metres from each location to each, one layer per vehicle profile; ``inf`` where that
    profile has no route."""

    locations: tuple[str, ...]
    durations: np.ndarray  # (profiles, L, L)
    distances: np.ndarray  # (profiles, L, L)
    coordinates: np.ndarray | None = None  # (L, 2) where known: solvers use it for neighbourhoods only
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = (len(self.locations), len(self.locations))
        for name in ("durations", "distances"):
            values = getattr(self, name)
            if values.ndim != 3 or values.shape[1:] != shape:
                raise InvalidRequest(f"travel matrix {name} must have shape (profiles, {shape[0]}, {shape[1]}), "
                                     f"not {values.shape}")
            if (values < 0).any() or np.isnan(values).any():
                raise InvalidRequest(f"travel matrix {name} has negative or NaN entries")
            if (np.isfinite(values) & (values > LARGEST)).any():
                raise InvalidRequest(f"travel matrix {name} has entries above {LARGEST:g} (inf: no route)")
        if self.durations.shape != self.distances.shape:
            raise InvalidRequest("travel matrix durations and distances differ in shape")
        if self.coordinates is not None and np.shape(self.coordinates) != (shape[0], 2):
            raise InvalidRequest(f"travel matrix coordinates must have shape ({shape[0]}, 2)")
        repeated = [n for n, c in Counter(self.locations).items() if c > 1]
        if repeated:
            raise InvalidRequest(f"location {repeated[0]!r} appears more than once")
        object.__setattr__(self, "index", {name: i for i, name in enumerate(self.locations)})

    @property
    def profiles(self) -> int:
        return self.durations.shape[0]


@dataclass(frozen=True)
class DayProblem:
    travel: TravelMatrix
    shipments: tuple[Shipment, ...]
    vehicles: tuple[Vehicle, ...]
    costs: Costs = Costs()

    def __post_init__(self) -> None:
        object.__setattr__(self, "shipments", tuple(self.shipments))
        object.__setattr__(self, "vehicles", tuple(self.vehicles))
        for kind, ids in (("shipment", [s.id for s in self.shipments]), ("vehicle", [v.id for v in self.vehicles])):
            repeated = [i for i, n in Counter(ids).items() if n > 1]
            if repeated:
                raise InvalidRequest(f"{kind} id {repeated[0]!r} appears more than once")
        known = self.travel.index
        for s in self.shipments:
            for role, where in (("pickup", s.pickup), ("drop", s.drop)):
                if where not in known:
                    raise InvalidRequest(f"shipment {s.id}: {role} {where!r} is not a location of the travel matrix")
        for v in self.vehicles:
            for role, where in (("start", v.start), ("end", v.end)):
                if where not in known:
                    raise InvalidRequest(f"vehicle {v.id}: {role} {where!r} is not a location of the travel matrix")
            if not 0 <= v.profile < self.travel.profiles:
                raise InvalidRequest(f"vehicle {v.id}: profile {v.profile} is not a layer of the travel matrix "
                                     f"(it has {self.travel.profiles})")

        c = self.costs
        priced = [("per_vehicle", c.per_vehicle)] + [(f"{name} times priority of {s.id}", cost * s.priority)
                                                     for s in self.shipments
                                                     for name, cost in (("unserved", c.unserved),
                                                                        ("late_per_s", c.late_per_s))]
        for name, cost in priced:
            if cost / c.per_metre > LARGEST_COST_M:
                raise InvalidRequest(f"costs {name} is worth {cost / c.per_metre:g} metres driven, more than "
                                     f"{LARGEST_COST_M:g} (the solvers count costs in int64)")

        biggest = max((v.capacity for v in self.vehicles), default=0)
        for s in self.shipments:
            if s.size > biggest:
                raise InvalidRequest(f"shipment {s.id}: size {s.size} is more than any vehicle carries ({biggest})")

    def at(self, location: str) -> int:
        return self.travel.index[location]

    @property
    def soft_windows(self) -> bool:
        """Whether any stop has a due time short of its hard limit (lateness has a price)."""
        return any(w.soft for s in self.shipments for w in (s.pickup_window, s.drop_window))

