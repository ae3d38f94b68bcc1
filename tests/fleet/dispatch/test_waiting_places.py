"""Where a loaded vehicle waits when it cannot go on (issue #13, finding 5: the baseline day stopped crossing from
15:00 in a circular wait between gate lanes and docks): never on a gate lane once cleared, never on a dock others
need while it waits for a gate lane. The gate rule is untouched: every crossing still needs a decision that
allows it (the independent check of each vehicle's released base, as in test_loop)."""

from __future__ import annotations

import pytest

from fleet.dispatch.steps import base_end
from fleet.dispatch.tracks import Job, JobKind
from fleet.events import Topic
from fleet.orders import OrderError, OrderState
from planner.corridor import NodeKind
from planner.schedule import PlanRequest
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet
from tests.fleet.dispatch.test_loop import _crossing_released_while_denied


def _nodes(corridor, kind: NodeKind, side: str) -> list[str]:
    return sorted(n.id for n in corridor.nodes_of(kind, jurisdiction=side))


def _standing_at(fleet, vehicle: str, nodes: list[str]) -> bool:
    state = fleet.link.state(vehicle)
    return state is not None and state.last_node_id in nodes and not state.driving


def _watched(fleet) -> dict[str, str]:
    """Each order's state as the bus announces it (polling the store every simulated half second costs more
    than the dispatch ticks), and the independent check of the gate rule after every tick."""
    states: dict[str, str] = {}
    fleet.bus.subscribe(lambda topic, message: states.__setitem__(message["order_id"], message["to"]),
                        topics=(Topic.ORDER,))
    fleet.checks.append(lambda f: not _crossing_released_while_denied(f) or pytest.fail(
        str(_crossing_released_while_denied(f))))
    return states


def _blocked(customs, corridor, blockers: list[str], start: str) -> tuple:
    """Vehicles standing for good (out of service) at ``blockers`` and one more at ``start``, all authorized: the
    fleet and that one's id."""
    fleet = make_fleet(customs, corridor, len(blockers) + 1, starts=[*blockers, start])
    fleet.authorize(*fleet.dispatcher.tracks)
    for vehicle in list(fleet.dispatcher.tracks)[:len(blockers)]:
        fleet.dispatcher.set_in_service(vehicle, False, "operator", "test: standing where it is for good")
    return fleet, f"agv_{len(blockers) + 1:03d}"


def _loaded(fleet, order: str, vehicle: str, *, at_its_gate: bool = False) -> None:
    """The order loaded on ``vehicle`` before the test begins (and waiting at its gate)."""
    for to in (OrderState.ASSIGNED, OrderState.TO_PICKUP, OrderState.LOADED, OrderState.AWAITING_CLEARANCE):
        if to != OrderState.AWAITING_CLEARANCE or at_its_gate:
            fleet.orders.transition(order, to, "test", {"kind": "test"}, vehicle_id=vehicle)


def test_a_cleared_vehicle_whose_drop_dock_is_taken_crosses_and_waits_at_a_holding_bay(customs, corridor):
    """Its drop dock is held by a vehicle broken down there: cleared, it does not wait on its gate lane (the lane
    it would hold for as long as the dock stays taken) but crosses and waits at a holding bay on the far side,
    and delivers once the dock is free."""
    fleet = make_fleet(customs, corridor, 2, starts=[docks(corridor, "VN")[0], "cn_dock_3"])
    fleet.authorize("agv_001", "agv_002")
    states = _watched(fleet)
    fleet.dispatcher.set_in_service("agv_002", False, "operator", "test: broken down at its dock")
    order = fleet.order(["VN-100000000011"], docks(corridor, "VN")[0], "cn_dock_3")
    fleet.release("VN-100000000011", VN_CN)
    holding = _nodes(corridor, NodeKind.HOLDING, "CN")
    assert fleet.run(2400, until=lambda: _standing_at(fleet, "agv_001", holding)), \
        (states.get(order), fleet.link.state("agv_001").last_node_id)
    assert states[order] == OrderState.TO_DROP
    assert [r.body["vehicle_id"] for r in fleet.store.audit_records() if r.kind == "crossing"] == ["agv_001"]
    fleet.dispatcher.set_in_service("agv_002", True, "operator", "test: repaired")  # it parks, freeing the dock
    assert fleet.run(1800, until=lambda: states[order] == OrderState.DELIVERED), fleet.orders.get(order)


def test_a_loaded_vehicle_waits_for_a_gate_lane_off_the_docks(customs, corridor):
    """Both CN outbound gate lanes are taken by vehicles waiting for a clearance that does not come. A third CN
    vehicle, loaded at cn_dock_3, waits for a lane at an inspection bay on its way to the gates, and a VN vehicle
    delivers to cn_dock_3 meanwhile. Before, it waited at the nearest place it could stand, the next dock
    (cn_dock_4), where any order to that dock would have found it for as long as the lanes stayed taken: the
    docks half of the baseline day's circular wait."""
    cn_docks, vn_docks = docks(corridor, "CN"), docks(corridor, "VN")
    fleet = make_fleet(customs, corridor, 4, starts=[vn_docks[3], cn_docks[0], cn_docks[1],
                                                     _nodes(corridor, NodeKind.PARKING, "CN")[0]])
    fleet.authorize(*fleet.dispatcher.tracks)
    states = _watched(fleet)
    waiting = [fleet.order([f"CN-20000000002{i}"], cn_docks[i], vn_docks[i]) for i in range(2)]  # never released
    assert fleet.run(1800, until=lambda: all(states.get(o) == OrderState.AWAITING_CLEARANCE for o in waiting))
    blocker = fleet.order(["CN-200000000029"], "cn_dock_3", vn_docks[2])  # never released either
    order = fleet.order(["VN-100000000021"], vn_docks[3], "cn_dock_3")  # where the blocker loads
    fleet.release("VN-100000000021", VN_CN)
    assert fleet.run(3000, until=lambda: states.get(order) == OrderState.DELIVERED), \
        (states.get(order), fleet.link.state(fleet.orders.get(order).vehicle_id).last_node_id)
    assert all(states[o] == OrderState.AWAITING_CLEARANCE for o in waiting)
    blocking = fleet.orders.get(blocker).vehicle_id
    assert states[blocker] == OrderState.LOADED
    assert _standing_at(fleet, blocking, _nodes(corridor, NodeKind.INSPECTION, "CN")), \
        fleet.link.state(blocking).last_node_id


def test_a_vehicle_left_standing_short_of_the_gates_makes_the_fleet_be_planned_again(customs, corridor):
    """Finding 11: agv_003 stands on the pre-gate (a waypoint, where it may not wait), stalled, both gate lanes
    taken for good: one by agv_002 waiting there, one by agv_001 still on its way to it, *through* the pre-gate.
    The planner leaves agv_003 standing (the last resort; it no longer escapes across, without its gate pass), so
    agv_001 can never pass. That is no queue to wait out, as a wait behind vehicles at their gates is: the whole
    fleet is planned again (agv_003 then gets gate 1, agv_001 an inspection bay). Before, it counted as a queue
    and nothing ever moved again."""
    gates = ("vn_gate_out_1", "vn_gate_out_2")
    fleet = make_fleet(customs, corridor, 3, starts=["vn_insp_junction", "vn_gate_out_2", "vn_out_pregate"])
    dispatcher = fleet.dispatcher
    planner, tracks = dispatcher.planner, dispatcher.tracks
    planner.plan_all([PlanRequest("agv_001", "vn_insp_junction", ("cn_dock_1",), hold_at=gates),
                      PlanRequest("agv_002", "vn_gate_out_2", ("cn_dock_2",), hold_at=gates)])
    for vehicle, drop in (("agv_001", "cn_dock_1"), ("agv_002", "cn_dock_2")):
        tracks[vehicle].plan, tracks[vehicle].job = planner.plans[vehicle], Job(JobKind.DELIVER, (drop,))
    stalled = planner.replan(PlanRequest("agv_003", "vn_out_pregate", ("cn_dock_3",), hold_at=gates), now=0.0)
    assert "taken for good" in stalled.stalled["agv_003"]
    assert "vn_out_pregate" in planner.plans["agv_001"].nodes and planner.plans["agv_003"].end == "vn_out_pregate"
    assert not dispatcher._queueing(tracks["agv_003"])


def test_a_loaded_vehicle_stalled_on_its_way_to_the_gates_never_waits_at_an_inbound_gate(customs, corridor):
    """Finding 13 (target_2030 jammed from 08:30): a loaded CN vehicle on the road to its gates (cn_out_entry),
    both CN outbound lanes taken for good and the inspection bays too. The planner's last resort, "the nearest
    place it may wait", was an inbound gate lane (through the junction by the pre-gate), and standing there it
    took that lane for its departure gates: it waited for its clearance, and then for its drop dock, on the
    way in for the vehicles from across. With the other side doing the same, nothing came off the bridge into
    either yard, and nothing could go onto it. Now it never ends a plan at an inbound gate; once an outbound
    lane frees it waits for its clearance there."""
    inbound = {"cn_gate_in_1", "cn_gate_in_2"}
    blockers = ["cn_gate_out_1", "cn_gate_out_2", *_nodes(corridor, NodeKind.INSPECTION, "CN")]
    fleet, loaded = _blocked(customs, corridor, blockers, "cn_out_entry")
    dispatcher = fleet.dispatcher
    order = fleet.order(["CN-200000000041"], docks(corridor, "CN")[0], docks(corridor, "VN")[0])
    _loaded(fleet, order, loaded)
    track = dispatcher.tracks[loaded]
    track.job = Job(JobKind.DELIVER, (docks(corridor, "VN")[0],), fleet.orders.get(order))
    states = _watched(fleet)
    ends: list[str] = []
    fleet.checks.append(lambda f: track.plan is not None and ends.append(track.plan.end))
    assert fleet.run(300)
    assert not inbound & set(ends), ends
    assert states.get(order) is None  # not awaiting clearance anywhere: it has no gate
    dispatcher.set_in_service("agv_001", True, "operator", "test: on its way")  # it parks, freeing cn_gate_out_1
    assert fleet.run(900, until=lambda: states.get(order) == OrderState.AWAITING_CLEARANCE), \
        fleet.link.state(loaded).last_node_id
    assert track.plan.end == "cn_gate_out_1" and not inbound & set(ends)


def test_an_empty_vehicle_whose_pickup_dock_is_taken_does_not_wait_on_an_inbound_gate(customs, corridor):
    """Finding 13, once departing loads kept off the inbound gates: at 09:30 empty vehicles on their way to a
    pickup stood on them (agv_059 and agv_093 on both CN inbound lanes), their docks taken; a request to a pickup
    named no place never to wait at, so a vehicle stalled on an inbound lane stayed there, the nearest place it may
    wait. Here agv_002 stands on cn_gate_in_1 and is given an order whose pickup dock is held for good by agv_001
    (broken down there): it leaves the inbound lane and waits in the yard; it loads once the dock is free."""
    inbound = {"cn_gate_in_1", "cn_gate_in_2"}
    fleet = make_fleet(customs, corridor, 2, starts=["cn_dock_1", "cn_gate_in_1"])
    dispatcher = fleet.dispatcher
    fleet.authorize(*dispatcher.tracks)
    states = _watched(fleet)
    dispatcher.set_in_service("agv_001", False, "operator", "test: broken down at its dock")
    order = fleet.order(["CN-200000000051"], "cn_dock_1", docks(corridor, "VN")[0])
    assert fleet.run(60, until=lambda: states.get(order) == OrderState.TO_PICKUP)
    track = dispatcher.tracks["agv_002"]
    assert fleet.run(300, until=lambda: _standing_at(fleet, "agv_002", _nodes(corridor, NodeKind.PARKING, "CN")
                                                      + _nodes(corridor, NodeKind.CHARGER, "CN")
                                                      + _nodes(corridor, NodeKind.DOCK, "CN"))), \
        (fleet.link.state("agv_002").last_node_id, track.plan.nodes)
    assert track.plan.end not in inbound and states[order] == OrderState.TO_PICKUP
    dispatcher.set_in_service("agv_001", True, "operator", "test: repaired")  # it parks, freeing the dock
    assert fleet.run(900, until=lambda: states.get(order) == OrderState.LOADED), fleet.link.state("agv_002")


def test_a_cleared_vehicle_past_its_gates_never_turns_back_over_the_pad(customs, corridor):
    """target_2030 at 10:30 (issue #13, finding 14): a cleared VN->CN vehicle on the lane to the bridge, its drop
    dock and every CN holding and inspection bay taken for good. The planner's last resort, "the nearest place it
    may wait", was a VN holding bay, over the handoff pad (crossing lanes, which its clearance allowed) and back
    into Vietnam with its load; with that closed, the next nearest was a CN outbound gate lane, the way out for
    China's departures. Now a cleared vehicle past its gates stays on its way across and waits on the far side,
    at no gate; its one crossing is recorded when it goes across, and it delivers once the dock is free."""
    vn_yard = {n.id for n in corridor.nodes.values() if n.jurisdiction == "VN"} - {
        "vn_out_post", "vn_deck_out_0", "vn_deck_out_1", "border_northbound", "border_southbound", "handoff"}
    blockers = ["cn_dock_3", *_nodes(corridor, NodeKind.HOLDING, "CN"), *_nodes(corridor, NodeKind.INSPECTION, "CN")]
    fleet, cleared = _blocked(customs, corridor, blockers, "vn_deck_out_0")
    dispatcher = fleet.dispatcher
    order = fleet.order(["VN-100000000051"], docks(corridor, "VN")[0], "cn_dock_3")
    _loaded(fleet, order, cleared, at_its_gate=True)  # and cleared there
    fleet.release("VN-100000000051", VN_CN)
    dispatcher.tracks[cleared].job = Job(JobKind.DELIVER, ("cn_dock_3",), fleet.orders.get(order), cleared=True)
    states = _watched(fleet)
    visited: set[str] = set()
    fleet.checks.append(lambda f: visited.add(f.link.state(cleared).last_node_id))
    crossings = lambda: [r.body["vehicle_id"] for r in fleet.store.audit_records() if r.kind == "crossing"]  # noqa: E731
    assert fleet.run(900, until=lambda: _standing_at(fleet, cleared, _nodes(corridor, NodeKind.PARKING, "CN")
                                                     + _nodes(corridor, NodeKind.CHARGER, "CN"))), \
        (sorted(visited), crossings(), dispatcher.tracks[cleared].plan.end)
    assert not visited & vn_yard, sorted(visited & vn_yard)
    assert crossings() == [cleared] and states[order] == OrderState.TO_DROP
    dispatcher.set_in_service("agv_001", True, "operator", "test: repaired")  # it parks, freeing the dock
    assert fleet.run(1800, until=lambda: states[order] == OrderState.DELIVERED), fleet.link.state(cleared)
    assert crossings() == [cleared]


def test_a_crossing_is_recorded_only_for_a_vehicle_that_goes_across(customs, corridor):
    """Over the handoff pad and back (``vn_deck_out_1 -> handoff -> vn_deck_in_1``: on Bac Luan II the pad is
    reachable in through operation, over crossing lanes) a vehicle crosses the border line but not the border.
    The pad, a node of the line, recorded a crossing of the load aboard, and the order went on as crossing, its
    container still in Vietnam (finding 14). A crossing is recorded for a vehicle going on from the line into the
    far side only. (No plan the dispatcher makes now takes a cleared vehicle that way: this one is given it.)"""
    fleet, _ = _blocked(customs, corridor, [], "vn_deck_out_0")
    dispatcher = fleet.dispatcher
    order = fleet.order(["VN-100000000061"], docks(corridor, "VN")[0], "cn_dock_3")
    _loaded(fleet, order, "agv_001", at_its_gate=True)
    fleet.release("VN-100000000061", VN_CN)
    track = dispatcher.tracks["agv_001"]
    track.job = Job(JobKind.DELIVER, ("cn_dock_3",), fleet.orders.get(order), cleared=True)
    states = _watched(fleet)
    assert fleet.run(1)
    t = dispatcher.now()
    turn = dispatcher.planner.replan(PlanRequest("agv_001", base_end(corridor, track), ("vn_hold_1",), t), now=t)
    assert "handoff" in turn.plans["agv_001"].nodes
    dispatcher._apply(turn, t, planned_for="agv_001")
    assert fleet.run(900, until=lambda: _standing_at(fleet, "agv_001", ["vn_hold_1"])), \
        fleet.link.state("agv_001").last_node_id
    assert [r for r in fleet.store.audit_records() if r.kind == "crossing"] == []
    # released past its gate on an allowing decision, never across: cleared, not crossing
    assert states == {order: OrderState.CLEARED} and fleet.state_of(order) == OrderState.CLEARED


def test_a_cleared_load_past_its_gates_is_not_cancelled_on_the_way_to_the_bridge(customs, corridor):
    """A loaded vehicle past its gates on the lane to the bridge whose order was cancelled was sent to a holding
    bay on its side; on Bac Luan II the only way back is over the handoff pad, a turn on the border line with
    the load aboard, and its job had no order left, so the gate rule was asked as for an empty vehicle (with
    China's hold on the consignment since, it was let onto the pad all the same). Now, as on the crossing lanes,
    the order finishes to the far side first: the cancel is refused with 409, the order carries on."""
    fleet, vehicle = _blocked(customs, corridor, [], "vn_deck_out_0")
    dispatcher = fleet.dispatcher
    order = fleet.order(["VN-100000000071"], docks(corridor, "VN")[0], "cn_dock_3")
    _loaded(fleet, order, vehicle, at_its_gate=True)
    fleet.release("VN-100000000071", VN_CN)
    dispatcher.tracks[vehicle].job = Job(JobKind.DELIVER, ("cn_dock_3",), fleet.orders.get(order), cleared=True)
    with pytest.raises(OrderError) as refused:
        dispatcher.cancel_order(order, "test: the buyer withdrew", "dispatcher")
    assert refused.value.status == 409 and refused.value.field == "state"
    states = _watched(fleet)
    assert fleet.run(1800, until=lambda: states.get(order) == OrderState.DELIVERED), states


def test_a_parked_vehicle_whose_pickup_dock_is_taken_waits_at_its_spot_while_another_parks(customs, corridor):
    """target_2030 on branch `same`, 18:25-19:00: an empty vehicle parked at a CN spot is given an order whose pickup
    dock a loaded vehicle holds for good (it waits for a gate lane). While another vehicle was on its way to park,
    its goals every CN spot, the stalled vehicle's fallback counted its own spot taken and drove it to the nearest
    place left, a CN outbound gate lane: the lane the loaded vehicle on its dock waited for, and no plan untied the
    two; the corridor stood still for the rest of the day. Here agv_001 is broken down on the pickup dock, agv_003
    goes to park from a dock, and agv_002 waits at its spot; it loads once the dock is free."""
    spot = _nodes(corridor, NodeKind.PARKING, "CN")[0]
    fleet = make_fleet(customs, corridor, 3, starts=["cn_dock_1", spot, "cn_dock_8"])
    dispatcher = fleet.dispatcher
    fleet.authorize(*dispatcher.tracks)
    states = _watched(fleet)
    dispatcher.set_in_service("agv_001", False, "operator", "test: broken down at its dock")
    parker = dispatcher.tracks["agv_003"]
    assert fleet.run(60, until=lambda: parker.job is not None and parker.job.kind == JobKind.PARK)
    order = fleet.order(["CN-200000000061"], "cn_dock_1", docks(corridor, "VN")[0])
    assert fleet.run(60, until=lambda: states.get(order) == OrderState.TO_PICKUP)
    assert parker.job is not None and parker.job.kind == JobKind.PARK  # still on its way to park
    track = dispatcher.tracks["agv_002"]
    assert track.stalled_because is not None and "cn_dock_1" in track.stalled_because
    assert track.plan.nodes == (spot,), track.plan.nodes
    fleet.run(120)
    assert fleet.link.state("agv_002").last_node_id == spot and track.plan.end == spot
    dispatcher.set_in_service("agv_001", True, "operator", "test: repaired")  # it parks, freeing the dock
    assert fleet.run(900, until=lambda: states.get(order) == OrderState.LOADED), fleet.link.state("agv_002")
