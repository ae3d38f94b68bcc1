"""Absorb a delay without changing anyone's route: push back the times of every plan the delay reaches,
keeping the order in which vehicles use each node and lane group (the precedence graph's order).

The late vehicle's own later steps, then each vehicle planned after it at a node it now leaves later (and
theirs in turn) are shifted by just enough, never earlier than planned. The original plans keep every
rule and a delay only raises lower bounds on times, so the shifted plans keep every rule too: this cannot
fail, unlike a fresh search in dense traffic. Vehicles the delay does not reach keep their plans.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import replace

from planner.schedule.lanes import TimedGraph
from planner.schedule.plans import TimedPlan

__all__ = ["retime"]

EPS = 1e-9


def retime(timed: TimedGraph, plans: Mapping[str, TimedPlan], vehicle_id: str, step_index: int,
           arrive: float) -> dict[str, TimedPlan]:
    """The plans that change when ``vehicle_id`` reaches step ``step_index`` of its plan only at ``arrive``.

    Raises
    ------
    KeyError : no plan for the vehicle.
    ValueError : no such step, or relay partners would have to be retimed together (not supported).
    """
    plan = plans[vehicle_id]
    if not 0 <= step_index < len(plan.steps):
        raise ValueError(f"{vehicle_id} has no step {step_index}")
    departs = {vid: [s.depart for s in p.steps] for vid, p in plans.items()}
    arrives = {vid: [s.arrive for s in p.steps] for vid, p in plans.items()}
    next_at, next_in_group = _successors(timed, plans)
    changed: set[str] = set()
    work: deque[tuple[str, int, float]] = deque()  # (vehicle, step, leave it no earlier than)
    if step_index == 0:
        arrives[vehicle_id][0] = max(arrives[vehicle_id][0], arrive)
        changed.add(vehicle_id)
        work.append((vehicle_id, 0, arrive))
    else:  # it set off late from the step before (it cannot have crawled along the lane)
        lane = timed.lanes[(plan.steps[step_index - 1].node, plan.steps[step_index].node)]
        work.append((vehicle_id, step_index - 1, arrive - lane.travel_s))
    while work:
        vid, k, earliest = work.popleft()
        steps = plans[vid].steps
        dwell = steps[k].depart - steps[k].arrive if steps[k].action else 0.0  # a stop keeps its dwell
        leave = max(earliest, arrives[vid][k] + dwell)
        if leave <= departs[vid][k] + EPS:
            continue
        if plans[vid].meets:
            raise ValueError(f"{vid} meets a relay partner: replan the relay rather than retime it")
        changed.add(vid)
        departs[vid][k] = leave
        lane = timed.lanes[(steps[k].node, steps[k + 1].node)]
        arrives[vid][k + 1] = leave + lane.travel_s
        if k + 2 < len(steps):
            work.append((vid, k + 1, arrives[vid][k + 1]))
        follower = next_at.get((vid, k))
        if follower is not None and follower[1] > 0:
            # the next vehicle planned at this node may arrive only once this one has cleared it: it waits
            # at its own previous node
            other, j = follower
            before = timed.lanes[(plans[other].steps[j - 1].node, plans[other].steps[j].node)]
            work.append((other, j - 1, leave + lane.clearance_s - before.travel_s))
        for other, j in next_in_group.get((vid, k), ()):
            # the other direction may set off into the single-lane section only once this one is out
            work.append((other, j, arrives[vid][k + 1] + lane.clearance_s))
    return {vid: replace(plans[vid], steps=tuple(replace(s, arrive=arrives[vid][k], depart=departs[vid][k])
                                                  for k, s in enumerate(plans[vid].steps)))
            for vid in changed}


def _successors(timed: TimedGraph, plans: Mapping[str, TimedPlan]):
    """Who comes next at each visited node; who uses each lane group the other way later."""
    visits: dict[str, list[tuple[float, str, int]]] = defaultdict(list)
    uses: dict[str, list[tuple[float, bool, str, int]]] = defaultdict(list)
    for vid, plan in plans.items():
        for k, step in enumerate(plan.steps):
            visits[step.node].append((step.arrive, vid, k))
        for k, (here, nxt) in enumerate(itertools.pairwise(plan.steps)):
            lane = timed.lanes[(here.node, nxt.node)]
            if lane.group:
                uses[lane.group].append((here.depart, lane.forward, vid, k))
    next_at = {}
    for ordered in visits.values():
        ordered.sort()
        for (_, vid, k), (_, other, j) in itertools.pairwise(ordered):
            next_at[(vid, k)] = (other, j)
    next_in_group: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
    for ordered in uses.values():
        ordered.sort()
        for index, (_, way, vid, k) in enumerate(ordered):
            next_in_group[(vid, k)] = [(other, j) for _, other_way, other, j in ordered[index + 1:] if other_way != way]
    return next_at, next_in_group
