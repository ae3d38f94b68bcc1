"""How far a vehicle may be released along its plan, given what has happened: the execution rule of the
precedence graph (:mod:`planner.schedule.precedence`). A vehicle sets off for its next step only once every
event of other vehicles ordered before it has happened, so vehicles that drive as fast as they like, late or
early, keep the planned order at every node and lane group and never meet.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import networkx as nx

from planner.schedule.plans import TimedPlan
from planner.schedule.precedence import ARRIVE, LEAVE

__all__ = ["Event", "done_events", "releasable_until"]

Event = tuple[str, int, int]  # (vehicle, step index, ARRIVE | LEAVE)


def done_events(vehicle: str, reached: int, left_reached: bool) -> set[Event]:
    """The events of a vehicle that has arrived at step ``reached`` (-1: not even at its first step), and has
    also left it if ``left_reached``."""
    done = {(vehicle, k, ARRIVE) for k in range(reached + 1)} | {(vehicle, k, LEAVE) for k in range(reached)}
    if left_reached and reached >= 0:
        done.add((vehicle, reached, LEAVE))
    return done


def releasable_until(dependencies: nx.DiGraph, plan: TimedPlan, released: int, done: Collection[Event],
                     ready: Callable[[int], bool] = lambda step: True) -> int:
    """The furthest step the vehicle may be released to, from ``released`` on: each next step only when its
    arrival, and the departure before it, wait for nothing of another vehicle that has not happened, and
    ``ready(step)`` holds (the caller's own conditions: a dwell over, a customs decision)."""
    vehicle = plan.vehicle_id
    last = released
    while last + 1 < len(plan.steps):
        step = last + 1
        needs = [e for event in ((vehicle, step, ARRIVE), (vehicle, last, LEAVE)) if event in dependencies
                 for e in dependencies.predecessors(event)]
        if any(e[0] != vehicle and e not in done for e in needs) or any(e == (vehicle, step, ARRIVE) for e in needs):
            break  # waits on someone else, or an impossible order (the event waits on itself)
        if not ready(step):
            break
        last = step
    return last
