"""Relay handoffs: time one side's vehicle and the other side's to meet at the handoff pad on the border
line, for the container transfer (DESIGN.md §4), both steps at the pad marked ``custody``. In ``through``
operation there is nothing to time: the planner marks the step where the vehicle crosses the border line
(over a border node or the pad) as the custody handoff.

The meeting time depends on both plans: the deliverer may not leave before the transfer is done, and the
transfer starts only when the receiver is there too. Plan the receiver's earliest arrival, then the
deliverer (held at the pad until the transfer is over), then the receiver again to stay until the same
time; if the receiver can only come later than assumed, move the meeting and repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from planner.exceptions import NoPlan
from planner.schedule.fleet import FleetPlanner
from planner.schedule.plans import PlanRequest, Stop, TimedPlan

__all__ = ["RelayPlan", "plan_relay"]

MAX_ITERATIONS = 5
ON_TIME_S = 1e-6
CUSTODY = "custody"  # the step where the container changes hands


@dataclass(frozen=True)
class RelayPlan:
    deliverer: TimedPlan
    receiver: TimedPlan
    meet_at: float  # both vehicles at the pad: the transfer starts
    transfer_done: float


def plan_relay(planner: FleetPlanner, deliverer: PlanRequest, receiver: PlanRequest, handoff: str,
               transfer_s: float) -> RelayPlan:
    """Plan and reserve both vehicles of a relay: each drives to ``handoff``, they meet, the container is
    transferred for ``transfer_s``, then each drives on to its goals. The requests' own stops (e.g. the
    deliverer's pickup) come before the handoff.

    Both steps at the pad are marked ``custody``: the container changes hands there (DESIGN.md §4).
    Neither vehicle waits on the pad, which is on the border line, for the other: each waits where it
    starts and sets off as late as it can to arrive at the meeting.

    Raises
    ------
    NoPlan : either vehicle cannot reach the pad, or the meeting could not be agreed.
    """
    ids = (deliverer.vehicle_id, receiver.vehicle_id)
    deliverer = replace(deliverer, meets=frozenset({receiver.vehicle_id}))
    receiver = replace(receiver, meets=frozenset({deliverer.vehicle_id}))
    for vehicle in ids:
        planner.table.release(vehicle)
    earliest = _arrival(planner.plan_one(_via(receiver, handoff, transfer_s, 0.0)), handoff)
    earliest_delivery = _arrival(planner.plan_one(_via(deliverer, handoff, transfer_s, 0.0)), handoff)
    target = max(earliest, earliest_delivery)
    for _ in range(MAX_ITERATIONS):
        delivering = _via(_setting_off_late(deliverer, target - earliest_delivery), handoff, transfer_s,
                          target + transfer_s)
        deliverer_plan = planner.plan_one(delivering)
        meet_at = max(_arrival(deliverer_plan, handoff), target)
        planner.table.reserve(deliverer_plan)
        receiving = _via(_setting_off_late(receiver, meet_at - earliest), handoff, transfer_s, meet_at + transfer_s)
        receiver_plan = planner.plan_one(receiving)
        if _arrival(receiver_plan, handoff) <= meet_at + ON_TIME_S:
            planner.table.reserve(receiver_plan)
            for request in (delivering, receiving):  # an incremental replan keeps the meeting
                planner.requests[request.vehicle_id] = request
            return RelayPlan(deliverer_plan, receiver_plan, meet_at, meet_at + transfer_s)
        planner.table.release(deliverer.vehicle_id)
        target = _arrival(receiver_plan, handoff)
    raise NoPlan(f"relay {ids[0]} -> {ids[1]}: no meeting time at {handoff} agreed in {MAX_ITERATIONS} tries")


def _via(request: PlanRequest, handoff: str, transfer_s: float, not_before: float) -> PlanRequest:
    return replace(request, stops=(*request.stops, Stop(handoff, transfer_s, not_before, CUSTODY)))


def _setting_off_late(request: PlanRequest, by: float) -> PlanRequest:
    """The request, waiting ``by`` seconds where it starts (not at the pad) before it sets off."""
    if by <= ON_TIME_S:
        return request
    return replace(request, stops=(Stop(request.start, 0.0, request.start_time + by, "wait"), *request.stops))


def _arrival(plan: TimedPlan, handoff: str) -> float:
    return next(s.arrive for s in plan.steps if s.node == handoff and s.action == CUSTODY)


