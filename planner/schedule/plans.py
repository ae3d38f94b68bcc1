"""Timed plans, what a plan is asked for, and the spacing rules every plan keeps."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from planner.exceptions import InvalidRequest
from planner.routing import VehicleProfile

INF = math.inf


@dataclass(frozen=True)
class FollowingRules:
    """Spacing between AGVs, from the lane-capacity model q = 3600·v / (L + s0 + v·h).

    A vehicle leaving a node onto a lane driven at v keeps the node for ``(L + s0) / v + h`` seconds after
    it departs (its own length plus the standstill gap, then the time headway): the next vehicle may
    arrive only then. Every lane is driven at its limit, so the same spacing holds along the lane and at
    its end, and one lane carries at most q vehicles an hour.
    """

    vehicle_length_m: float = 15.0
    standstill_gap_m: float = 2.0
    headway_s: float = 2.0

    def __post_init__(self) -> None:
        """A vehicle has a length, so it holds a node for a positive time after it leaves (the clearance);
        a zero clearance would let two vehicles share a node at one instant."""
        for name, key, positive in (("vehicle_length_m", "agv_length_m", True),
                                    ("standstill_gap_m", "standstill_gap_m", False),
                                    ("headway_s", "min_headway_s", False)):
            value = getattr(self, name)
            number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if not number or not (value > 0 if positive else value >= 0):
                raise InvalidRequest(f"following rules: {name} (map parameter {key}) must be a finite number "
                                     f"{'> 0' if positive else '>= 0'}, got {value!r}")
            object.__setattr__(self, name, float(value))

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, object]) -> FollowingRules:
        """The rules a corridor map's ``parameters`` set (``agv_length_m``, ``standstill_gap_m``,
        ``min_headway_s``), defaults for what it leaves out."""
        default = cls()
        return cls(parameters.get("agv_length_m", default.vehicle_length_m),  # type: ignore[arg-type]
                   parameters.get("standstill_gap_m", default.standstill_gap_m),  # type: ignore[arg-type]
                   parameters.get("min_headway_s", default.headway_s))  # type: ignore[arg-type]

    def clearance_s(self, speed: float) -> float:
        return (self.vehicle_length_m + self.standstill_gap_m) / speed + self.headway_s

    def capacity_per_hour(self, speed: float) -> float:
        """q = 3600·v / (L + s0 + v·h), vehicles an hour on one lane at speed v (m/s)."""
        return 3600.0 * speed / (self.vehicle_length_m + self.standstill_gap_m + speed * self.headway_s)


@dataclass(frozen=True)
class Stop:
    """A node the vehicle must stop at on the way, for at least ``dwell_s``, leaving no earlier than
    ``not_before`` (e.g. a pickup dock, or the relay handoff pad timed to meet the other side's vehicle)."""

    node: str
    dwell_s: float = 0.0
    not_before: float = 0.0
    action: str = "stop"


@dataclass(frozen=True)
class PlanRequest:
    """Where one vehicle is and where it should go.

    ``start`` is reached at ``start_time`` (the vehicle's node now, or the next node it will reach).
    ``goals``: any of these nodes will do (the first free for good wins, e.g. any free parking spot).
    ``hold_at``: nodes where the vehicle must wait for an unknown time (the gates of its side while its
    customs clearance is pending): the plan then ends at the first free one and the rest of the route to
    ``goals`` is returned as an unreserved horizon, to be planned when clearance comes.
    ``keep_free``: of ``hold_at``, leave this many free for good (relay: a side's last free gate lane is the
    other vehicles' only way to the handoff pad); the vehicle is stalled rather than take one of them.
    ``wait_at``: where to wait when neither ``goals`` nor ``hold_at`` can be had now (tried before standing
    where it is): a holding bay on the way, so that it does not wait on a gate lane or a dock others need.
    ``never_wait_at``: places the fallback never leaves it waiting at: the inbound gates, the only way into a
    yard from across (a relay receiver's way home from the pad; in through operation, every arrival's).
    """

    vehicle_id: str
    start: str
    goals: tuple[str, ...]
    start_time: float = 0.0
    profile: VehicleProfile = field(default_factory=VehicleProfile)
    stops: tuple[Stop, ...] = ()
    hold_at: tuple[str, ...] = ()
    priority: int = 0  # higher plans first in a full replan
    meets: frozenset[str] = frozenset()  # relay partners it may share a handoff pad with
    keep_free: int = 0
    wait_at: tuple[str, ...] = ()
    never_wait_at: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Step:
    """The vehicle reaches ``node`` at ``arrive`` and leaves it at ``depart`` (INF: it stays there)."""

    node: str
    arrive: float
    depart: float
    action: str | None = None  # "pickup", "handoff", "custody", "await_clearance", ... for the fleet


@dataclass(frozen=True)
class TimedPlan:
    """A reserved, conflict-free schedule ending where the vehicle may wait indefinitely.

    ``horizon``: the route beyond the last step, planned but not reserved (after a customs gate, whose
    wait has no known length); the fleet sends it to the vehicle unreleased.
    """

    vehicle_id: str
    steps: tuple[Step, ...]
    horizon: tuple[str, ...] = ()
    meets: frozenset[str] = frozenset()  # relay partners it may share a handoff pad with

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(s.node for s in self.steps)

    @property
    def end(self) -> str:
        return self.steps[-1].node

    @property
    def finish_time(self) -> float:
        return self.steps[-1].arrive

    def step_index_at(self, t: float) -> int:
        """Index of the step whose node the vehicle stands at, or drives towards, at time ``t``: the
        first it has not yet left. A replan from ``t`` starts there (a vehicle cannot stop mid-lane)."""
        return next(i for i, step in enumerate(self.steps) if step.depart > t or i == len(self.steps) - 1)
