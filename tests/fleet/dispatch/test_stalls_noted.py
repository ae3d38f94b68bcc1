"""Every vehicle the planner reports stalled in a result the dispatcher adopts is noted so and tried again.

The planner plans other vehicles again with the one it is asked about: in a replan, those at its start when it
will be there (``FleetPlanner.replan``); after a breakdown, those planned through the broken-down vehicle's place
(``FleetPlanner.fail``). One of them may get only the planner's fallback (wait at a bay, or where it stands),
reported in ``FleetPlan.stalled``. The dispatcher noted only the replanned vehicle's own stall: such another
vehicle waited at its bay for good, its order ``to_drop``, no reason shown and no alarm (the fresh-clone CI's
end-to-end run: 19 of 20 orders delivered, the last vehicle at a CN inspection bay, ``stalled_because`` null).

Which other vehicle the planner plans again, and when, turns on timings to the half second; so here the planner's
answer is widened at its edge: one more vehicle, given the fallback plan to stay where its base ends (reserved in
the planner's table as the fallback is), is reported stalled. The dispatcher must try it again and deliver.
"""

from __future__ import annotations

import pytest

from fleet.dispatch.steps import base_end
from fleet.orders import OrderState
from planner.schedule import INF, Step, TimedPlan
from tests.fleet.dispatch.conftest import VN_CN, Fleet, docks, make_fleet

WHY = "no conflict-free plan to its drop for now (a vehicle in the way)"


def _two_on_their_way(customs, corridor) -> tuple[Fleet, str, str]:
    """agv_001 and agv_002 each on their way to load a cleared order: the fleet and both orders."""
    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_10", "vn_parking_1"])
    fleet.authorize("agv_001", "agv_002")
    orders = []
    for k, (pickup, drop) in enumerate([("vn_dock_8", docks(corridor, "CN")[0]),
                                        ("vn_dock_3", docks(corridor, "CN")[1])]):
        consignment = f"VN-10000000000{k + 1}"
        orders.append(fleet.order([consignment], pickup, drop))
        fleet.release(consignment, VN_CN)
    assert fleet.run(120, until=lambda: all(fleet.state_of(o) == OrderState.TO_PICKUP for o in orders))
    return fleet, orders[0], orders[1]


def _also_stalls(fleet: Fleet, other: str, call: str) -> list[str]:
    """The planner's ``call`` (replan or fail) also plans ``other`` again, once, to stay where its base ends,
    and reports it stalled. Returns the vehicles each such call was made for."""
    planner, dispatcher = fleet.dispatcher.planner, fleet.dispatcher
    real, calls = getattr(planner, call), []

    def widened(*args, **kwargs):
        result = real(*args, **kwargs)
        first = args[0]
        vehicle = first.vehicle_id if call == "replan" else first
        if vehicle == other or calls:
            return result
        calls.append(vehicle)
        track = dispatcher.tracks[other]
        stay = TimedPlan(other, (Step(base_end(fleet.corridor, track), dispatcher.now(), INF),))
        planner.table.release(other)
        planner.table.reserve(stay)
        result.plans[other], result.stalled[other] = stay, f"{other}: {WHY}"
        return result

    setattr(planner, call, widened)
    return calls


@pytest.mark.parametrize("call", ["replan", "fail"])
def test_another_vehicle_left_waiting_by_a_plan_is_tried_again(customs, corridor, call):
    fleet, first, second = _two_on_their_way(customs, corridor)
    stalled = "agv_002" if fleet.orders.get(first).vehicle_id == "agv_001" else "agv_001"
    other = fleet.orders.get(first).vehicle_id
    calls = _also_stalls(fleet, stalled, call)
    if call == "replan":
        fleet.dispatcher.tracks[other].needs_plan = True  # (a delay, a new goal, its clearance: any replan)
    else:
        fleet.dispatcher.act(other, "emergency_stop", "operator", "a person on the lane")
    assert fleet.run(5, until=lambda: bool(calls)) and calls == [other]
    track = fleet.dispatcher.tracks[stalled]
    assert track.stalled_because == f"{stalled}: {WHY}" and track.needs_plan, (track.stalled_because, track.needs_plan)
    assert fleet.dispatcher.vehicle(stalled).stalled_because == f"{stalled}: {WHY}"
    if call == "fail":
        fleet.run(5)
        fleet.dispatcher.act(other, "release_emergency_stop", "operator", "lane clear")
    # tried again once the fallback's wait is up: its own order is carried across as if nothing had happened
    mine = second if fleet.orders.get(second).vehicle_id == stalled else first
    assert fleet.run(3600, until=lambda: fleet.state_of(mine) == OrderState.DELIVERED), \
        (fleet.state_of(mine), track.state.last_node_id, track.stalled_because, track.plan.nodes)
    assert fleet.run(3600, until=lambda: {fleet.state_of(o) for o in (first, second)} == {OrderState.DELIVERED})
