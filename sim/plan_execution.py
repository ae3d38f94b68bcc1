"""Execute timed plans the way the fleet does, with vehicles late by random amounts: a vehicle sets off for
its next node only once everything the precedence graph orders before its arrival there has happened
(the fleet releases it no further). Shows that plans finish under delays (no deadlock), and how late."""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping
from dataclasses import dataclass

from planner.schedule.lanes import TimedGraph
from planner.schedule.plans import TimedPlan
from planner.schedule.precedence import ARRIVE, LEAVE, precedence_graph

__all__ = ["Execution", "execute_with_delays"]


@dataclass(frozen=True)
class Execution:
    finished: dict[str, float]  # vehicle -> when it reached its last step
    stuck: dict[str, int]  # vehicle -> the last step it reached, for those that never finished (deadlock)


def execute_with_delays(timed: TimedGraph, plans: Mapping[str, TimedPlan], seed: int, max_slowdown: float = 0.5,
                        hold_up_share: float = 0.05, max_hold_up_s: float = 120.0) -> Execution:
    """Every lane is driven up to ``max_slowdown`` slower than planned, and a ``hold_up_share`` of the
    departures is held up to ``max_hold_up_s`` more. Nobody leaves earlier than planned."""
    rng = random.Random(seed)
    dependencies = precedence_graph(timed, plans)
    missing = {event: dependencies.in_degree(event) for event in dependencies}
    done: dict[tuple, float] = {}
    queue = [(plan.steps[0].arrive, (vid, 0, ARRIVE)) for vid, plan in plans.items()]
    heapq.heapify(queue)
    while queue:
        time, event = heapq.heappop(queue)
        done[event] = time
        for successor in dependencies.successors(event):
            missing[successor] -= 1
            if missing[successor] == 0:
                heapq.heappush(queue, (_when(plans, successor, time, done, rng, max_slowdown, hold_up_share,
                                             max_hold_up_s), successor))
    finished, stuck = {}, {}
    for vid, plan in plans.items():
        last = len(plan.steps) - 1
        if (vid, last, ARRIVE) in done:
            finished[vid] = done[(vid, last, ARRIVE)]
        else:
            stuck[vid] = max(k for (v, k, _) in done if v == vid)
    return Execution(finished, stuck)


def _when(plans: Mapping[str, TimedPlan], event: tuple, ready: float, done: dict, rng: random.Random,
          max_slowdown: float, hold_up_share: float, max_hold_up_s: float) -> float:
    """When ``event`` happens, everything before it having happened by ``ready``."""
    vid, k, kind = event
    steps = plans[vid].steps
    if kind == LEAVE:  # after the dwell, not before the planned time, maybe held up
        held_up = rng.uniform(0, max_hold_up_s) if rng.random() < hold_up_share else 0.0
        return max(ready, done[(vid, k, ARRIVE)] + steps[k].depart - steps[k].arrive, steps[k].depart) + held_up
    travel = steps[k].arrive - steps[k - 1].depart
    return max(ready, done[(vid, k - 1, LEAVE)] + travel * (1 + rng.uniform(0, max_slowdown)))
