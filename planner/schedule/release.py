"""How far a vehicle may be released along its plan, given what has happened: the execution rule of the
precedence graph (:mod:`planner.schedule.precedence`). A vehicle sets off for its next step only once every
event of other vehicles ordered before it has happened, so vehicles that drive as fast as they like, late or
early, keep the planned order at every node and lane group and never meet.
"""

from __future__ import annotations

from collections.abc import Callable, Container

import networkx as nx

from planner.schedule.plans import TimedPlan
from planner.schedule.precedence import ARRIVE, LEAVE, Waits

__all__ = ["Event", "Progress", "releasable_until", "release_limit"]

Event = tuple[str, int, int]  # (vehicle, step index, ARRIVE | LEAVE)


class Progress:
    """What the vehicles have done: per vehicle, the step it has arrived at (-1: not even its first) and whether
    it has also left it. ``event in progress`` answers in O(1), where listing every event done would cost a
    tick O(steps) per vehicle."""

    def __init__(self, source: Callable[[str], tuple[int, bool] | None] | None = None) -> None:
        self._at: dict[str, tuple[int, bool]] = {}
        self._source = source  # asked, once, for a vehicle not ``set``: only the vehicles asked about cost anything

    def set(self, vehicle: str, reached: int, left_reached: bool) -> None:
        self._at[vehicle] = (reached, left_reached)

    def of(self, vehicle: str) -> tuple[int, bool] | None:
        """(the step it has arrived at, whether it has left it); None: nothing known of it."""
        at = self._at.get(vehicle)
        if at is None and self._source is not None:
            at = self._source(vehicle)
            if at is not None:
                self._at[vehicle] = at
        return at

    def __contains__(self, event: object) -> bool:
        if not isinstance(event, tuple):
            return False
        vehicle, k, kind = event
        at = self.of(vehicle)
        if at is None:
            return False
        reached, left = at
        return k <= reached if kind == ARRIVE else k < reached or (k == reached >= 0 and left)


def releasable_until(dependencies: nx.DiGraph | Waits, plan: TimedPlan, released: int, done: Container[Event],
                     ready: Callable[[int], bool] = lambda step: True) -> int:
    """The furthest step the vehicle may be released to, from ``released`` on: each next step only when its
    arrival, and the departure before it, wait for nothing of another vehicle that has not happened, and
    ``ready(step)`` holds (the caller's own conditions: a dwell over, a customs decision)."""
    return release_limit(dependencies, plan, released, done, ready)[0]


def release_limit(dependencies: nx.DiGraph | Waits, plan: TimedPlan, released: int, done: Container[Event],
                  ready: Callable[[int], bool] = lambda step: True) -> tuple[int, str | None]:
    """:func:`releasable_until`, and what stopped it there: the vehicle one of whose events not yet done the next
    step waits on (the vehicle itself for an impossible order), or None (the end of the plan, or ``ready``).
    Stopped by a vehicle, the answer stays the same for as long as the graph, the plan, ``released`` and that
    vehicle's progress do: a caller may skip asking again meanwhile."""
    vehicle = plan.vehicle_id
    last = released
    while last + 1 < len(plan.steps):
        step = last + 1
        needs = [e for event in ((vehicle, step, ARRIVE), (vehicle, last, LEAVE)) if event in dependencies
                 for e in dependencies.predecessors(event)]
        if any(e == (vehicle, step, ARRIVE) for e in needs):
            return last, vehicle  # an impossible order (the event waits on itself)
        waited = next((e[0] for e in needs if e[0] != vehicle and e not in done), None)
        if waited is not None:
            return last, waited  # waits on someone else
        if not ready(step):
            return last, None
        last = step
    return last, None
