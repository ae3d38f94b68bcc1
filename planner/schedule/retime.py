"""Absorb a delay without changing anyone's route: push back the times of every plan the delay reaches,
keeping the order in which vehicles use each node, lane group and conflict zone (the precedence graph's order).

The late vehicle's own later steps, then each vehicle planned after it at a node it now leaves later (and
theirs in turn) are shifted by just enough, never earlier than planned. The original plans keep every
rule and a delay only raises lower bounds on times, so the shifted plans keep every rule too: this cannot
fail, unlike a fresh search in dense traffic. Vehicles the delay does not reach keep their plans.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import replace

from planner.corridor import BORDER_LINE_KINDS
from planner.schedule.plans import TimedPlan
from planner.schedule.table import ReservationTable

__all__ = ["retime"]

EPS = 1e-9


def retime(table: ReservationTable, vehicle_id: str, step_index: int, arrive: float) -> dict[str, TimedPlan]:
    """The plans that change when ``vehicle_id`` reaches step ``step_index`` of its plan only at ``arrive``
    (who follows whom is read from the reservation table, so the work is proportional to what changes).

    Relay partners stay together: both leave the handoff pad once the transfer after the later arrival
    is done.

    Raises
    ------
    KeyError : no plan for the vehicle.
    ValueError : no such step, or the delay comes back round to push its own cause (a cycle, seen with two
        relay meetings at one pad): no finite retiming exists, so none is returned.
    """
    plans, timed = table.plans, table.timed
    plan = plans[vehicle_id]
    if not 0 <= step_index < len(plan.steps):
        raise ValueError(f"{vehicle_id} has no step {step_index}")
    departs: dict[str, list[float]] = {}
    arrives: dict[str, list[float]] = {}

    def times(vid: str) -> tuple[list[float], list[float]]:
        if vid not in departs:
            departs[vid] = [s.depart for s in plans[vid].steps]
            arrives[vid] = [s.arrive for s in plans[vid].steps]
        return arrives[vid], departs[vid]

    work: deque[tuple[str, int, float]] = deque()  # (vehicle, step, leave it no earlier than)
    if step_index == 0:
        times(vehicle_id)[0][0] = max(plan.steps[0].arrive, arrive)
        work.append((vehicle_id, 0, arrive))
    else:  # it set off late from the step before (it cannot have crawled along the lane)
        lane = timed.lanes[(plan.steps[step_index - 1].node, plan.steps[step_index].node)]
        work.append((vehicle_id, step_index - 1, arrive - lane.travel_s))
    changed: set[str] = {vehicle_id}
    # Longest paths by FIFO relaxation (Bellman-Ford): without a cycle, no step is pushed more often than there
    # are steps in all; with one, the times would grow for ever.
    bound, pushed = sum(len(p.steps) for p in plans.values()), Counter[tuple[str, int]]()
    while work:
        vid, k, earliest = work.popleft()
        pushed[(vid, k)] += 1
        if pushed[(vid, k)] > bound:
            raise ValueError(f"the delay of {vehicle_id} comes back round to step {k} of {vid}: a cycle")
        steps = plans[vid].steps
        arrived, leaves = times(vid)
        meeting = _meeting(plans, vid, k)
        if meeting is not None:  # both leave the pad once the transfer after the later arrival is done
            partner, j, transfer = meeting
            leave = max(earliest, max(arrived[k], times(partner)[0][j]) + transfer)
        else:
            dwell = steps[k].depart - steps[k].arrive if steps[k].action else 0.0  # a stop keeps its dwell
            leave = max(earliest, arrived[k] + dwell)
        if leave <= leaves[k] + EPS:
            continue
        if meeting is None and k > 0 and leave > arrived[k] + EPS and \
                timed.graph.nodes[steps[k].node]["kind"] in BORDER_LINE_KINDS:
            # nobody waits on the border line: arrive there later instead, by leaving the node before later
            before = timed.lanes[(steps[k - 1].node, steps[k].node)]
            work.append((vid, k - 1, leave - before.travel_s))
            continue
        changed.add(vid)
        leaves[k] = leave
        if meeting is not None:
            work.append((meeting[0], meeting[1], leave))
        lane = timed.lanes[(steps[k].node, steps[k + 1].node)]
        arrived[k + 1] = leave + lane.travel_s
        if k + 2 < len(steps):
            work.append((vid, k + 1, arrived[k + 1]))
        follower = table.next_holder(steps[k].node, vid, steps[k].arrive, ignoring=plans[vid].meets)
        if follower is not None and follower[0] in plans:
            # the next vehicle planned at this node may arrive only once this one has cleared it: it waits
            # at its own previous node
            other, start = follower
            j = next(i for i, s in enumerate(plans[other].steps) if s.node == steps[k].node and s.arrive == start)
            if j > 0:
                before = timed.lanes[(plans[other].steps[j - 1].node, plans[other].steps[j].node)]
                work.append((other, j - 1, leave + lane.clearance_s - before.travel_s))
        if lane.group:
            for other, start in table.later_opposite_uses(lane.group, vid, steps[k].depart, lane.forward):
                # the other direction may set off into the single-lane section only once this one is out
                j = next(i for i, s in enumerate(plans[other].steps) if s.depart == start)
                work.append((other, j, arrived[k + 1] + lane.clearance_s))
        for zone in lane.zones:
            for other, start in table.later_zone_uses(zone, vid, steps[k].depart, lane.way):
                # a vehicle on another lane through the conflict zone sets off only once this one is out
                j = next(i for i, s in enumerate(plans[other].steps) if s.depart == start)
                work.append((other, j, arrived[k + 1] + lane.clearance_s))
    return {vid: replace(plans[vid], steps=tuple(replace(s, arrive=arrives[vid][k], depart=departs[vid][k])
                                                  for k, s in enumerate(plans[vid].steps)))
            for vid in changed if vid in departs}


def _meeting(plans, vid: str, k: int) -> tuple[str, int, float] | None:
    """(partner, its step, transfer time) when step ``k`` is the vehicle's relay meeting, else None."""
    step = plans[vid].steps[k]
    if step.action != "custody" or not plans[vid].meets:
        return None
    for partner in plans[vid].meets & plans.keys():
        for j, theirs in enumerate(plans[partner].steps):
            if theirs.node == step.node and theirs.action == "custody":
                return partner, j, step.depart - max(step.arrive, theirs.arrive)
    return None
