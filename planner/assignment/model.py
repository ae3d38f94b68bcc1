"""What the assignment takes and returns: orders, vehicle states, energy and cost weights; trips.

Times are seconds on the dispatch clock; a battery is a fraction of full charge (0..1).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import networkx as nx

from planner.corridor import NodeKind
from planner.exceptions import InvalidRequest
from planner.routing import VehicleProfile

__all__ = [
    "Assignment", "EnergyModel", "Reason", "Stop", "TransportOrder", "Trip", "VehicleStatus", "Weights",
    "validate_request",
]

#: What a container size takes of a vehicle's capacity: a 20' is 1 TEU, a 40' is 2; a vehicle carries 2.
CAPACITY_TEU = 2


@dataclass(frozen=True)
class TransportOrder:
    """Move one container from ``pickup`` to ``drop``: not before ``ready_s``, late after ``due_s``.

    Whether it needs the border crossing follows from the two nodes and the map, so it is not a field: a
    vehicle may take the order only if its profile allows a route between them.
    """

    id: str
    pickup: str
    drop: str
    teu: int  # 1 = 20', 2 = 40'
    ready_s: float
    due_s: float
    priority: float = 1.0  # multiplies this order's lateness and its unassigned penalty
    mass_kg: float = 0.0  # the load: a vehicle whose payload is less may not take the order

    def __post_init__(self) -> None:
        if self.teu not in (1, 2):
            raise InvalidRequest(f"order {self.id}: teu must be 1 (20') or 2 (40'), not {self.teu!r}")
        if not (math.isfinite(self.ready_s) and math.isfinite(self.due_s)) or self.due_s < self.ready_s:
            raise InvalidRequest(f"order {self.id}: due_s {self.due_s} is before ready_s {self.ready_s}")
        if not self.priority > 0:
            raise InvalidRequest(f"order {self.id}: priority must be positive, not {self.priority}")
        if self.pickup == self.drop:
            raise InvalidRequest(f"order {self.id}: pickup and drop are the same node {self.pickup!r}")


@dataclass(frozen=True)
class VehicleStatus:
    """Where a vehicle will be free (``node`` at ``free_at_s``), with the battery it will have then."""

    id: str
    node: str
    free_at_s: float
    battery: float
    profile: VehicleProfile = field(default_factory=VehicleProfile)
    payload_kg: float = math.inf  # the most it may carry (its factsheet's maxLoadMass)

    def __post_init__(self) -> None:
        if not 0.0 <= self.battery <= 1.0:
            raise InvalidRequest(f"vehicle {self.id}: battery must be a fraction in 0..1, not {self.battery}")
        if not math.isfinite(self.free_at_s):
            raise InvalidRequest(f"vehicle {self.id}: free_at_s must be finite")


@dataclass(frozen=True)
class EnergyModel:
    """Battery use per km driven (loaded or empty alike), and the two thresholds.

    ``reserve``: no plan lets the battery fall below it, counting the drive to the nearest charger after the
    last drop. ``low``: a vehicle below it takes no order and is sent to charge.
    """

    fraction_per_km: float
    reserve: float = 0.2
    low: float = 0.3

    def __post_init__(self) -> None:
        if not self.fraction_per_km > 0:
            raise InvalidRequest(f"fraction_per_km must be positive, not {self.fraction_per_km}")
        if not 0.0 <= self.reserve <= self.low <= 1.0:
            raise InvalidRequest(f"need 0 <= reserve <= low <= 1, got reserve={self.reserve}, low={self.low}")

    def used(self, metres: float) -> float:
        return self.fraction_per_km * metres / 1000.0


@dataclass(frozen=True)
class Weights:
    """The objective: cost of one second of lateness (times the order's priority), of one second of empty
    travel, and of leaving an order unassigned (times its priority). Units are arbitrary but shared."""

    lateness_per_s: float = 1.0
    empty_travel_per_s: float = 0.2
    unassigned_penalty: float = 3600.0
    #: leaving an order costs the lateness it has already too, so that one long overdue is still carried (issue
    #: #13, findings 10 and 12); off, an order more than ``unassigned_penalty`` late is never carried again
    overdue_counts_when_left: bool = True

    def __post_init__(self) -> None:
        if min(self.lateness_per_s, self.empty_travel_per_s, self.unassigned_penalty) < 0:
            raise InvalidRequest(f"weights must not be negative: {self}")


class Reason(StrEnum):
    """Why an order is left unassigned."""

    NO_ROUTE = "no available vehicle may drive this route (a crossing needs a cross-border authorized vehicle)"
    BATTERY = "no available vehicle has the battery to do it and still reach a charger above the reserve"
    NOT_CHOSEN = "feasible, but every vehicle that could take it is better used elsewhere (or too costly)"


@dataclass(frozen=True)
class Stop:
    """Load or unload ``order_id`` at ``node`` at ``time_s`` (arrival, or the order's ready time if the
    vehicle arrives earlier and waits). Handling takes no time in this model."""

    order_id: str
    action: str  # "pickup" or "drop"
    node: str
    time_s: float


@dataclass(frozen=True)
class Trip:
    """One load of a vehicle: it drives empty to the first pickup, then is never empty until the last drop.

    ``lateness_s`` is the plain sum over its orders; ``cost`` is this trip's share of the objective.
    """

    vehicle_id: str
    stops: tuple[Stop, ...]
    orders: tuple[str, ...]
    empty_travel_s: float
    lateness_s: float
    driven_m: float
    cost: float


@dataclass(frozen=True)
class Assignment:
    """Trips in the order each vehicle drives them; vehicles sent to charge; orders left, with why.

    ``cost`` is the objective of this assignment (trips plus unassigned penalties), recomputed exactly;
    ``optimal`` says whether the solver proved it optimal within its model; ``lower_bound`` is the best
    bound it proved on the optimum (``cost`` if optimal, ``-inf`` if it proved none).
    """

    trips: tuple[Trip, ...]
    to_charger: Mapping[str, str] = field(default_factory=dict)
    unassigned: Mapping[str, Reason] = field(default_factory=dict)
    cost: float = 0.0
    optimal: bool = False
    lower_bound: float = -math.inf

    def trips_of(self, vehicle_id: str) -> list[Trip]:
        return [t for t in self.trips if t.vehicle_id == vehicle_id]


def validate_request(graph: nx.DiGraph, orders: Iterable[TransportOrder], vehicles: Iterable[VehicleStatus],
                     chargers: Collection[str]) -> None:
    """Raise :class:`InvalidRequest` naming the first order, vehicle or charger that cannot be planned."""
    orders, vehicles = list(orders), list(vehicles)
    for kind, ids in (("order", [o.id for o in orders]), ("vehicle", [v.id for v in vehicles])):
        repeated = [i for i, n in Counter(ids).items() if n > 1]
        if repeated:
            raise InvalidRequest(f"{kind} id {repeated[0]!r} appears more than once")
    for o in orders:
        for role, node in (("pickup", o.pickup), ("drop", o.drop)):
            if node not in graph:
                raise InvalidRequest(f"order {o.id}: {role} {node!r} is not in the corridor")
    for v in vehicles:
        if v.node not in graph:
            raise InvalidRequest(f"vehicle {v.id}: node {v.node!r} is not in the corridor")
    for c in chargers:
        if c not in graph or graph.nodes[c]["kind"] != NodeKind.CHARGER:
            raise InvalidRequest(f"charger {c!r} is not a charger node of the corridor")
