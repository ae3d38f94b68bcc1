"""A wait that should not be one (issue #13: a day of target_2030 planned the whole fleet 2,442 times, and 2,355
of those plans freed none of the vehicles that called for them; the full plans were a third of the day's CPU).
A third of the callers were vehicles sent to charge at a charger another vehicle held for good (standing there,
or sent there too): they waited as long as that one stood there (hours) instead of going to another charger."""

from __future__ import annotations

from fleet.dispatch.tracks import Job, JobKind
from planner.corridor import NodeKind
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet
from tests.fleet.dispatch.test_waiting_places import _nodes


def test_a_vehicle_sent_to_a_charger_another_holds_for_good_goes_to_another_one(customs, corridor, monkeypatch):
    """agv_002, low, has been sent to cn_charger_1, where agv_001 now stands for good (out of service). It does
    not wait there for as long as agv_001 stands: it is free again, and the next assignment round sends it to a
    charger no one holds, where it charges; the whole fleet is not planned again meanwhile. Before, it stalled
    for good with that charger as its goal, and the fleet was planned again every ``FULL_REPLAN_AFTER_S``."""
    chargers, parking = _nodes(corridor, NodeKind.CHARGER, "CN"), _nodes(corridor, NodeKind.PARKING, "CN")[0]
    fleet = make_fleet(customs, corridor, 2, starts=[chargers[0], parking])
    dispatcher = fleet.dispatcher
    fleet.authorize("agv_001", "agv_002")
    dispatcher.set_in_service("agv_001", False, "operator", "test: standing at its charger for good")
    spot = corridor.nodes[parking]
    fleet.link.spawn("agv_002", spot.x, spot.y, corridor.heading_into(parking), parking,
                     battery=dispatcher.settings.low_battery_percent - 5)
    fleet.order(["VN-600000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])  # an assignment round
    fleet.release("VN-600000000001", VN_CN)
    track = dispatcher.tracks["agv_002"]
    track.job = Job(JobKind.CHARGE, (chargers[0],))  # sent there before agv_001 came to stand there
    full_plans = []
    plan_everyone = dispatcher._plan_everyone
    monkeypatch.setattr(dispatcher, "_plan_everyone", lambda *args: full_plans.append(args) or plan_everyone(*args))

    def charging_elsewhere() -> bool:
        state = fleet.link.state("agv_002")
        return state is not None and state.charging and state.last_node_id in chargers[1:]

    assert fleet.run(900, until=charging_elsewhere), (track.job, track.stalled_because)
    assert len(full_plans) == 1  # the first


def test_a_stalled_vehicle_told_again_to_stay_where_it_stands_leaves_the_plans_precedence_as_it_was(
        customs, corridor, monkeypatch):
    """agv_002 is to park at the spot where agv_001 stands for good (out of service): it stalls, and each retry
    (and each full plan) tells it again to stay at its own spot, only from a later time. The precedence between
    the plans (``release_waits``, built again over every plan) is not built again for such a plan: nobody is
    planned at a node after a vehicle that stays there for good, so no vehicle's order of passing changed. A
    busy day's stalled retries rebuilt it each time."""
    from fleet.dispatch import loop

    parking = _nodes(corridor, NodeKind.PARKING, "CN")[:2]
    fleet = make_fleet(customs, corridor, 2, starts=parking)
    dispatcher = fleet.dispatcher
    fleet.run(5)
    dispatcher.set_in_service("agv_001", False, "operator", "test: standing at its spot for good")
    track = dispatcher.tracks["agv_002"]
    track.job, track.needs_plan = Job(JobKind.PARK, (parking[0],)), True
    built, replans, full_plans = [], [], []
    release_waits, replan, plan_everyone = loop.release_waits, dispatcher._replan, dispatcher._plan_everyone
    monkeypatch.setattr(loop, "release_waits", lambda *args: built.append(args) or release_waits(*args))
    monkeypatch.setattr(dispatcher, "_replan", lambda *args: replans.append(args) or replan(*args))
    monkeypatch.setattr(dispatcher, "_plan_everyone", lambda *args: full_plans.append(args) or plan_everyone(*args))
    fleet.run(120)
    assert track.stalled_since is not None and track.plan is not None and track.plan.nodes == (parking[1],)
    assert len(replans) >= 20  # (main built the precedence 27 times here)
    # once after each full plan, which takes agv_001 out of service again (routing the others round it), and once
    # for the first stall (agv_002 was told to stay before it had a job)
    assert len(built) <= len(full_plans) + 1
