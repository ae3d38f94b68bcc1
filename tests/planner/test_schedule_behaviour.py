"""What the fleet planner does in the situations the corridor brings: customs waits at the gates, single-lane
sections, delays, breakdowns, relay handoffs, custody at the border line, bad requests."""

from __future__ import annotations

import dataclasses

import pytest

from planner.corridor import WAITING_KINDS
from planner.exceptions import PlanInterrupted, UnknownNode
from planner.routing import VehicleProfile
from planner.schedule import INF, PlanRequest, Step, Stop, TimedPlan
from planner.schedule.check import plan_violations
from planner.schedule.handoff import plan_relay

from .test_schedule_properties import assert_sound

VN_GATES = ("vn_gate_out_1", "vn_gate_out_2")


def violations(planner, requests=()):
    return plan_violations(planner.timed.graph, planner.plans, planner.timed.rules,
                           {r.vehicle_id: r.profile for r in requests})


def test_the_checker_catches_each_broken_rule(planner):
    a = PlanRequest("a", "vn_parking_1", ("cn_dock_1",))
    b = PlanRequest("b", "vn_parking_2", ("cn_dock_2",))
    planner.plan_all([a, b])
    assert violations(planner) == []
    plan_a, plan_b = planner.plans["a"], planner.plans["b"]
    graph, rules = planner.timed.graph, planner.timed.rules

    def broken(**plans):
        return " ".join(plan_violations(graph, {"a": plan_a, "b": plan_b} | plans, rules,
                                        {"a": VehicleProfile(cross_border=False)}))

    # b's whole plan shifted so it arrives where a is at the same time
    shared = next(s for s in plan_b.steps if s.node in plan_a.nodes and s.node != plan_b.steps[-1].node)
    mine = next(s for s in plan_a.steps if s.node == shared.node)
    shift = mine.arrive - shared.arrive
    moved = dataclasses.replace(plan_b, steps=tuple(dataclasses.replace(s, arrive=s.arrive + shift,
                                                                        depart=s.depart + shift)
                                                    for s in plan_b.steps))
    assert f"node {shared.node}" in broken(b=moved) or "follows" in broken(b=moved)
    fast = dataclasses.replace(plan_a, steps=(plan_a.steps[0], dataclasses.replace(plan_a.steps[1],
                                                                                  arrive=plan_a.steps[0].depart)),)
    assert "faster than its limit" in broken(a=fast)
    stops_on_road = dataclasses.replace(plan_a, steps=plan_a.steps[:3])
    assert "does not stay there" in broken(a=stops_on_road) and "may not wait" in broken(a=stops_on_road)
    assert "without cross-border authorization" in broken()


def test_a_customs_wait_ends_the_plan_at_a_gate_with_the_rest_as_horizon(planner):
    request = PlanRequest("a", "vn_parking_1", ("cn_dock_1",), hold_at=VN_GATES)
    planner.plan_all([request])
    plan = planner.plans["a"]
    assert plan.end in VN_GATES and plan.steps[-1].action == "await_clearance" and plan.steps[-1].depart == INF
    assert plan.horizon[-1] == "cn_dock_1" and "border_northbound" in plan.horizon
    assert "border_northbound" not in plan.nodes  # nothing past the gate is reserved
    # clearance comes at t=900: replanned from the gate, on through the border
    cleared = planner.replan(PlanRequest("a", plan.end, ("cn_dock_1",), start_time=900.0)).plans["a"]
    assert cleared.steps[0].node == plan.end and cleared.end == "cn_dock_1" and cleared.steps[0].depart >= 900.0
    assert violations(planner) == []


def test_when_both_gates_are_taken_the_next_vehicle_waits_where_it_may(planner):
    requests = [PlanRequest(f"v{i}", f"vn_parking_{i + 1}", ("cn_dock_1",), hold_at=VN_GATES) for i in range(3)]
    result = planner.plan_all(requests)
    ends = sorted(planner.plans[r.vehicle_id].end for r in requests)
    assert ends[:2] == list(VN_GATES) or set(ends) >= set(VN_GATES)
    third = next(r.vehicle_id for r in requests if planner.plans[r.vehicle_id].end not in VN_GATES)
    assert "taken for good" in result.stalled[third]
    assert violations(planner) == []


def test_a_vehicle_waiting_for_a_gate_lane_is_never_sent_past_the_gates_by_the_fallback(planner):
    """Issue #13, finding 11 (baseline_2026 with 80 AGVs stopped crossing at ~15:00): both VN gate lanes are taken
    for good, one by a vehicle still on its way to it. The next loaded vehicle, at the pre-gate, stalls; the
    fallback ("the nearest place it may wait") drove it through the gate lane free for now, up the one lane to
    the bridge and across to a CN holding bay. It had skipped its gate pass: the crossing was never released, and
    it stood at the last node before the bridge for good, with every vehicle bound for CN queued behind it. Now
    it stands where it is, short of the gates (in the way of the vehicle on its way to gate 1: the planner's last
    resort, which the dispatcher answers with a full plan, where it gets gate 1 and the other an inspection bay)."""
    planner.plan_all([PlanRequest("a", "vn_insp_junction", ("cn_dock_1",), hold_at=VN_GATES),
                      PlanRequest("b", "vn_gate_out_2", ("cn_dock_2",), hold_at=VN_GATES)])
    assert {planner.plans["a"].end, planner.plans["b"].end} == set(VN_GATES)
    request = PlanRequest("c", "vn_out_pregate", ("cn_dock_3",), hold_at=VN_GATES)
    result = planner.replan(request, now=0.0)
    assert "taken for good" in result.stalled["c"]
    waits = planner.plans["c"]
    assert not any(planner.timed.lanes[(here.node, nxt.node)].crossing
                   for here, nxt in zip(waits.steps, waits.steps[1:], strict=False)), waits.nodes
    assert not set(waits.nodes) & set(VN_GATES), waits.nodes
    requests = [PlanRequest("a", "vn_insp_junction", ("cn_dock_1",), hold_at=VN_GATES,
                            wait_at=("vn_insp_1", "vn_insp_2", "vn_insp_3")),
                PlanRequest("b", "vn_gate_out_2", ("cn_dock_2",), hold_at=VN_GATES), request]
    planner.plan_all(requests)
    assert planner.plans["c"].nodes == ("vn_out_pregate", "vn_gate_out_1")
    assert planner.plans["a"].end.startswith("vn_insp_")
    assert violations(planner, requests) == []


def test_goals_the_vehicle_may_not_enter_leave_it_stalled_where_it_stands(planner):
    """Every goal, and every place the fallback may try, in the vehicle's ``avoid``: no route, so it stays where
    it is, as for any goal it cannot reach. It was a ValueError from networkx (no source for the search of the
    cost to go), raised through the dispatch tick: target_2030 stopped at 13:00 on the `yards` branch, a cleared
    vehicle's fallback asking only for places in the yard it must keep off (issue #13, finding 14)."""
    avoid = frozenset(n for n, kind in planner.timed.graph.nodes(data="kind") if kind in WAITING_KINDS)
    result = planner.replan(PlanRequest("a", "vn_deck_out_0", ("cn_dock_1",), profile=VehicleProfile(avoid=avoid)),
                            now=0.0)
    assert "cannot reach" in result.stalled["a"]
    assert planner.plans["a"].nodes == ("vn_deck_out_0",)


def test_a_vehicle_bound_for_its_gate_is_never_planned_through_it_and_round_over_the_pad(planner):
    """Issue #13, finding 12 (baseline_2026's day, with overdue orders carried, stopped crossing from about 19:00):
    gate 2 is taken for good, gate 1 is on the way of a cleared vehicle coming from an inspection bay. The next
    loaded vehicle, at the pre-gate, cannot wait at gate 1 for good before that one has passed; the search drove
    it through gate 1, free for now, up the lane to the bridge, round over the relay pad (crossing lanes) and back
    to gate 1. Past its gates without its gate pass, its crossing was never allowed: it stood at the last node
    before the bridge for good. Now its way to the gate keeps off crossing lanes and the border line."""
    planner.plan_all([PlanRequest("b", "vn_gate_out_2", ("cn_dock_2",), hold_at=VN_GATES)])
    planner.replan(PlanRequest("x", "vn_insp_2", ("cn_dock_3",)), now=0.0)
    assert "vn_gate_out_1" in planner.plans["x"].nodes
    planner.replan(PlanRequest("c", "vn_out_pregate", ("cn_dock_1",), hold_at=VN_GATES), now=0.0)
    plan = planner.plans["c"]
    assert not any(planner.timed.lanes[(here.node, nxt.node)].crossing
                   for here, nxt in zip(plan.steps, plan.steps[1:], strict=False)), plan.nodes
    assert not set(plan.nodes[:-1]) & set(VN_GATES), plan.nodes  # never through a gate lane on its way to one


def test_the_single_lane_inspection_access_is_used_one_direction_at_a_time(planner):
    """Two vehicles meet head-on at CN's single-lane inspection access: one waits at its end for the other."""
    lane_in, lane_out = ("cn_insp_access", "cn_insp_hub"), ("cn_insp_hub", "cn_insp_access")
    requests = [PlanRequest("in", "cn_parking_1", ("cn_insp_2",)),
                PlanRequest("out", "cn_insp_1", ("cn_parking_90",))]
    planner.plan_all(requests)
    uses = {}
    for vid, plan in planner.plans.items():
        for here, nxt in zip(plan.steps, plan.steps[1:], strict=False):
            if (here.node, nxt.node) in (lane_in, lane_out):
                uses[vid] = (here.depart, nxt.arrive + planner.timed.lanes[(here.node, nxt.node)].clearance_s)
    assert set(uses) == {"in", "out"}
    (_, first_out), (second_in, _) = sorted(uses.values())
    assert second_in >= first_out  # not at once
    assert violations(planner) == []


def test_a_swap_through_the_single_lane_section_is_batched_not_deadlocked(planner):
    """Three vehicles leave CN's inspection bays while three others come for those very bays, all through
    the one single-lane access: the case where negotiation between robots is known to deadlock."""
    requests = [PlanRequest(f"out{k}", f"cn_insp_{k}", (f"cn_parking_{10 + k}",)) for k in (1, 2, 3)]
    requests += [PlanRequest(f"in{k}", f"cn_parking_{k}", (f"cn_insp_{k}",)) for k in (1, 2, 3)]
    result = planner.plan_all(requests)
    assert result.stalled == {}
    lane = ("cn_insp_access", "cn_insp_hub")
    uses = sorted((here.depart, (here.node, nxt.node) == lane) for p in planner.plans.values()
                  for here, nxt in zip(p.steps, p.steps[1:], strict=False)
                  if {here.node, nxt.node} == set(lane))
    directions = [inward for _, inward in uses]
    assert len(uses) == 6 and directions == sorted(directions)  # all out first, then all in: one batch each
    assert_sound(planner, requests)


def test_a_delayed_vehicle_is_replanned_alone_and_the_rest_keep_their_plans(bac_luan_ii, planner):
    from sim.planning_scenarios import random_requests

    requests = random_requests(bac_luan_ii, 40, seed=3, moving_share=0.0)
    planner.plan_all(requests)
    before = dict(planner.plans)
    late = next(vid for vid, p in before.items() if len(p.steps) > 10)
    where = before[late].steps[5]
    result = planner.replan(PlanRequest(late, where.node, before[late].steps[-1:][0].node and
                                        (before[late].end,), start_time=where.arrive + 60.0))
    assert result.stalled == {}
    assert result.plans[late].steps[0].arrive == where.arrive + 60.0
    unchanged = [vid for vid in before if vid not in result.plans]
    assert unchanged and all(planner.plans[vid] == before[vid] for vid in unchanged)
    assert violations(planner, requests) == []


def test_a_breakdown_at_a_gate_sends_those_behind_through_the_other_gate(planner):
    requests = [PlanRequest(f"v{i}", f"vn_parking_{i + 1}", (f"cn_parking_{i + 1}",)) for i in range(8)]
    planner.plan_all(requests)
    through_gate_1 = sorted((p.steps[p.nodes.index("vn_gate_out_1")].arrive, vid)
                            for vid, p in planner.plans.items() if "vn_gate_out_1" in p.nodes)
    assert len(through_gate_1) >= 3
    since, broken = through_gate_1[0]
    result = planner.fail(broken, "vn_gate_out_1", since)
    behind = {vid for _, vid in through_gate_1[1:]}
    # a vehicle already on the gate lane stops behind the broken one; the others go through gate 2
    assert behind == set(result.plans) | set(result.stalled)
    assert all("stopped on the lane into vn_gate_out_1" in why for why in result.stalled.values())
    assert result.plans
    for vid, plan in result.plans.items():
        assert "vn_gate_out_1" not in plan.nodes and plan.end == f"cn_parking_{int(vid[1:]) + 1}", vid
    everyone = {vid: p for vid, p in planner.plans.items() if vid not in result.stalled}
    everyone |= {broken: TimedPlan(broken, (Step("vn_gate_out_1", since, INF),))}
    assert plan_violations(planner.timed.graph, everyone, planner.timed.rules) == []


def test_a_replan_from_where_a_broken_down_vehicle_stands_keeps_its_place_held(planner):
    """Found in the CI's end-to-end run: a vehicle taken out (held for good where it stands, no request left) and
    another replanned from that node at that time: the replan took the broken-down vehicle for one to plan again,
    released its place, and failed on its missing request (the dispatch tick failed, twice). It is left held."""
    requests = [PlanRequest(f"v{i}", f"vn_parking_{i + 1}", (f"cn_parking_{i + 1}",)) for i in range(3)]
    planner.plan_all(requests)
    broken = planner.plans["v0"]
    where = broken.steps[len(broken.steps) // 2]
    planner.fail("v0", where.node, where.arrive)
    result = planner.replan(PlanRequest("v1", where.node, ("cn_parking_2",), start_time=where.arrive + 1.0))
    assert "v0" not in result.plans
    assert "v0" in planner.table.holders_for_good(where.node)


def test_a_vehicle_broken_down_with_a_way_released_ahead_holds_that_way_for_good(planner):
    """An AGV e-stopped on its way drives on along the way released to it once its stop is released: it holds
    that way, not just where it stands (before, ``fail`` held one node). Those planned through it are planned
    around it; a full plan has nobody go through it either."""
    requests = [PlanRequest(f"v{i}", f"vn_parking_{i + 1}", (f"cn_parking_{i + 1}",)) for i in range(4)]
    planner.plan_all(requests)
    broken = planner.plans["v0"]
    k = len(broken.steps) // 3
    since, way = broken.steps[k].arrive, tuple(s.node for s in broken.steps[k:k + 4])
    users = {vid for vid, p in planner.plans.items() if vid != "v0" and set(way) & {s.node for s in p.steps
                                                                                    if s.depart >= since}}
    assert users
    result = planner.fail("v0", way[0], since, way[1:])
    assert users <= set(result.plans) | set(result.stalled)
    for planned in (result.plans, planner.plan_all(requests[1:], broken_down={"v0": (way, 0.0)}).plans):
        assert all(planner.table.holders_for_good(node) == {"v0"} for node in way)
        for vid, plan in planned.items():
            assert not set(way) & {s.node for s in plan.steps if s.depart >= since}, vid


def planned_relay(planner):
    """A VN vehicle picks up at vn_dock_1 and meets a CN vehicle at the handoff pad for a 180 s transfer: the two
    requests and the relay plan."""
    vn, cn = VehicleProfile(cross_border=False, home="VN"), VehicleProfile(cross_border=False, home="CN")
    deliverer = PlanRequest("vn_agv", "vn_parking_1", ("vn_parking_2",), profile=vn,
                            stops=(Stop("vn_dock_1", 120.0, 0.0, "pickup"),))
    receiver = PlanRequest("cn_agv", "cn_parking_1", ("cn_dock_3",), profile=cn)
    planner.plan_all([deliverer, receiver])
    relay = plan_relay(planner, deliverer, receiver, "handoff", 180.0)
    return deliverer, receiver, relay


def test_both_vehicles_of_a_relay_meeting_lost_at_the_pad_hold_it_and_nothing_else_moves(planner):
    """Found by the ROS-mode run of Kim Thanh: the second vehicle of a meeting lost at the pad replanned the first,
    already broken down there, and the dispatch tick died on a KeyError."""
    _, _, relay = planned_relay(planner)
    planner.fail("vn_agv", "handoff", relay.meet_at + 10.0)
    result = planner.fail("cn_agv", "handoff", relay.meet_at + 11.0)
    assert result.plans == {} and result.stalled == {}
    assert planner.table.holders_for_good("handoff") == {"vn_agv", "cn_agv"}


def test_a_relay_vehicle_replanned_on_the_pad_mid_transfer_keeps_the_transfer_and_makes_no_stop_again(planner):
    """Found in relay on Kim Thanh: the receiver broke down on the pad mid-transfer, and ``fail`` replanned the
    deliverer from the pad with the meeting's request as it was stored, every stop still to make: it drove off the
    pad with the load, round its yard to where it had set off (the meeting's first stop) and back, the transfer
    left. Now the stops its plan made before the step it stands at are made; the transfer under way is kept."""
    _, _, relay = planned_relay(planner)
    custody = {p.vehicle_id: next(s for s in p.steps if s.action == "custody") for p in (relay.deliverer,
                                                                                        relay.receiver)}
    mid_transfer = max(s.arrive for s in custody.values()) + 10.0
    plan = planner.fail("cn_agv", "handoff", mid_transfer).plans["vn_agv"]
    assert (plan.steps[0].node, plan.steps[0].action) == ("handoff", "custody"), plan.steps[:3]
    assert plan.steps[0].depart >= relay.transfer_done - 1e-6
    assert "vn_dock_1" not in plan.nodes  # loaded there before: not again
    assert [s.node for s in plan.steps].count("handoff") == 1


def test_relay_vehicles_meet_at_the_handoff_pad_for_the_transfer(planner):
    deliverer, receiver, relay = planned_relay(planner)
    at_pad = {p.vehicle_id: next(s for s in p.steps if s.action == "custody")
              for p in (relay.deliverer, relay.receiver)}
    assert max(s.arrive for s in at_pad.values()) == pytest.approx(relay.meet_at)
    assert all(s.depart >= relay.transfer_done - 1e-6 for s in at_pad.values())
    assert relay.transfer_done == pytest.approx(relay.meet_at + 180.0)
    assert abs(at_pad["cn_agv"].arrive - at_pad["vn_agv"].arrive) < 1.0  # timed to meet, not to wait on the pad
    assert any(s.action == "pickup" and s.node == "vn_dock_1" for s in relay.deliverer.steps)
    assert_sound(planner, [deliverer, receiver])


def test_a_late_relay_vehicle_moves_the_meeting_for_both(planner):
    vn, cn = VehicleProfile(cross_border=False, home="VN"), VehicleProfile(cross_border=False, home="CN")
    deliverer = PlanRequest("vn_agv", "vn_parking_1", ("vn_parking_2",), profile=vn)
    receiver = PlanRequest("cn_agv", "cn_parking_1", ("cn_dock_3",), profile=cn)
    planner.plan_all([deliverer, receiver])
    relay = plan_relay(planner, deliverer, receiver, "handoff", 180.0)
    late = 240.0
    step = relay.deliverer.steps[3]
    changed = planner.delay("vn_agv", 3, step.arrive + late).plans
    assert set(changed) == {"vn_agv", "cn_agv"}
    at_pad = {vid: next(s for s in p.steps if s.action == "custody") for vid, p in changed.items()}
    meet = max(s.arrive for s in at_pad.values())
    assert relay.meet_at < meet <= relay.meet_at + late  # planned waits on the way may absorb part of it
    assert meet == at_pad["vn_agv"].arrive and at_pad["cn_agv"].arrive < meet  # the receiver waits for it
    assert all(s.depart == pytest.approx(meet + 180.0) for s in at_pad.values())
    assert_sound(planner, [deliverer, receiver])


def test_through_plans_mark_the_custody_handoff_at_the_border_line(planner):
    planner.plan_all([PlanRequest("a", "vn_parking_1", ("cn_dock_1",))])
    custody = [s for s in planner.plans["a"].steps if s.action == "custody"]
    assert [s.node for s in custody] == ["border_northbound"]


def test_bad_requests_are_refused_clearly(planner):
    with pytest.raises(ValueError, match="more than one request for a"):
        planner.plan_all([PlanRequest("a", "vn_parking_1", ("vn_dock_1",)),
                          PlanRequest("a", "vn_parking_2", ("vn_dock_2",))])
    with pytest.raises(UnknownNode, match="atlantis"):
        planner.plan_one(PlanRequest("a", "vn_parking_1", ("atlantis",)))
    result = planner.plan_all([PlanRequest("a", "vn_parking_1", ("vn_dock_1",)),
                               PlanRequest("b", "vn_parking_2", ("vn_dock_1",))])
    assert list(result.stalled) == ["b"] and "vn_dock_1" in result.stalled["b"]
    assert result.plans["b"].end == "vn_parking_2"  # safety first: it stays where it may wait
    assert violations(planner) == []


@pytest.mark.parametrize("full_plan", [True, False])
def test_a_stalled_vehicle_at_its_parking_spot_stays_there_while_another_vehicle_parks(planner, full_plan):
    """An empty vehicle at a parking spot whose pickup dock another vehicle holds for good stalls; with a third
    vehicle on its way to park (its goals: every spot of that side, the spot the stalled one stands at too), the
    fallback found the stalled vehicle's own spot "spoken for", and its own hold on the spot kept it from
    staying there: it drove to "the nearest place it may wait", an outbound gate lane. On target_2030 (branch
    `same`, 19:00) such a vehicle stood at CN gate 2 waiting for the dock whose loaded vehicle waited for that
    gate lane, and the corridor stood still for the rest of the day."""
    parking = tuple(n for n, kind in planner.timed.graph.nodes(data="kind")
                    if kind == "parking" and n.startswith("cn_"))
    loaded = PlanRequest("x", "cn_dock_2", ("cn_dock_2",))
    parks = PlanRequest("y", "cn_dock_4", parking)
    stalled = PlanRequest("a", "cn_parking_12", ("cn_dock_2",))
    if full_plan:
        result = planner.plan_all([loaded, parks, stalled])
    else:
        planner.plan_all([loaded, parks])
        result = planner.replan(stalled, now=0.0)
    assert "taken for good" in result.stalled["a"]
    assert planner.plans["a"].nodes == ("cn_parking_12",)
    assert violations(planner) == []


def test_the_corridor_bottleneck_is_the_pre_gate_feeding_the_5_kmh_gate_lanes(planner):
    from planner.schedule.capacity import crossing_bottleneck

    for side, other in (("VN", "CN"), ("CN", "VN")):
        bottleneck = crossing_bottleneck(planner.timed, side, other)
        assert bottleneck.node == f"{side.lower()}_out_pregate" and "gate_out" in bottleneck.lane[1]
        assert bottleneck.speed == pytest.approx(5 / 3.6)
        assert bottleneck.per_hour == pytest.approx(3600 * (5 / 3.6) / (15 + 2 + 5 / 3.6 * 2))


def test_a_full_plan_does_not_repeat_a_round_that_would_plan_the_same(planner):
    """Should a vehicle stall, the full plan tries again with the stalled ones first; when they were first
    already, another round would plan exactly the same (a waste of a whole fleet's searches)."""
    searches = []
    search = planner.search

    def counted(*args, **kwargs):
        searches.append(args[1])
        return search(*args, **kwargs)

    planner.search = counted
    requests = [PlanRequest("a", "vn_parking_1", ("vn_dock_1",)), PlanRequest("b", "vn_dock_1", ("vn_dock_1",))]
    result = planner.plan_all(requests)
    assert list(result.stalled) == ["a"] and result.plans["a"].end == "vn_parking_1"
    one_round = len(searches)
    searches.clear()
    assert planner.plan_all(requests, rounds=1).plans == result.plans
    assert len(searches) == one_round


def test_a_full_plan_stopped_by_its_caller_leaves_the_reservations_as_they_were(planner):
    """``should_stop`` is asked before each vehicle (every round's); once it says stop, nothing of the new plan
    is kept: the table and the requests are those of the plan before, and replanning goes on from them."""
    before = [PlanRequest("a", "vn_parking_1", ("cn_dock_1",)), PlanRequest("b", "vn_parking_2", ("cn_dock_2",))]
    planner.plan_all(before)
    table, requests, plans = planner.table, planner.requests, dict(planner.plans)
    # more than one round: "c" and "d" are sent to the same dock, and which of them stalls depends on the order
    # (behind a vehicle staying parked on its goal, "c" would stall in any order: one round)
    anew = [PlanRequest("c", "vn_parking_3", ("vn_dock_1",)), PlanRequest("d", "vn_parking_4", ("vn_dock_1",)),
            PlanRequest("a", "vn_parking_1", ("vn_dock_2",))]
    asked = []

    def stop_at(nth: float):
        asked.clear()
        return lambda: asked.append(1) or len(asked) >= nth

    planner.plan_all(anew, should_stop=stop_at(INF))
    every_vehicle = len(asked)
    assert every_vehicle > len(anew)  # (more than one round)
    planner.table, planner.requests = table, requests
    for nth in (1, every_vehicle):  # before the first vehicle, before the last of the last round
        with pytest.raises(PlanInterrupted):
            planner.plan_all(anew, should_stop=stop_at(nth))
        assert len(asked) == nth  # honoured at once
        assert planner.table is table and planner.requests is requests and planner.plans == plans
    planner.replan(PlanRequest("a", "vn_parking_1", ("cn_dock_1",), start_time=60.0))
    assert set(planner.plans) == {"a", "b"} and violations(planner, before) == []
