"""Relay mode in one process (Kim Thanh - Bac Son): a vehicle of the departure side brings the load to the
handoff pad, a vehicle of the arrival side takes it on; neither leaves its side, both enter the pad only on a
gate decision that allows them, and the custody handoff names both."""

from __future__ import annotations

import pytest

from fleet.dispatch.steps import custody_arrival
from fleet.dispatch.tracks import Job, JobKind, Track
from fleet.maps import load_corridor
from fleet.orders import OrderError, OrderState
from fleet.vehicles.registry import VehicleRecord
from planner.corridor import Corridor, NodeKind
from planner.routing import VehicleProfile
from planner.schedule import INF, Step, TimedPlan
from tests.fleet.dispatch.conftest import CN_VN, VN_CN, docks, make_fleet

KIM_THANH = "maps/kim_thanh"


@pytest.fixture(scope="module")
def kim_thanh() -> Corridor:
    return load_corridor(KIM_THANH)


def _off_their_side(fleet) -> list[str]:
    """Vehicles standing anywhere but on their own side or the pad (by the node they last reported)."""
    bad = []
    for track in fleet.dispatcher.tracks.values():
        state = fleet.link.state(track.id)
        node = fleet.corridor.nodes[state.last_node_id]
        if node.kind != NodeKind.HANDOFF and (node.jurisdiction != track.record.home or node.kind == NodeKind.BORDER):
            bad.append(f"{track.id} ({track.record.home}) at {node.id}")
    return bad


def _on_the_pad_while_denied(fleet, consignment: str, direction: str) -> list[str]:
    """The vehicles on the pad while the gate rule denies the load's crossing for a reason other than that it has
    crossed (once handed over, its releases are used up: the pair may still stand on the pad)."""
    gate = fleet.dispatcher.gate
    return [vid for vid in fleet.dispatcher.tracks if fleet.link.state(vid).last_node_id == "handoff"
            and any("crossed already" not in reason for reason in gate.evaluate(vid, direction, [consignment]).reasons)]


def _fleet_with_an_order(customs, kim_thanh, count: int, consignment: str, direction: str = VN_CN):
    """``count`` vehicles (both sides, all authorized) and one order from a dock of the departure side to one of
    the arrival side, released by both authorities."""
    here, there = direction.split("->")
    fleet = make_fleet(customs, kim_thanh, count)
    fleet.authorize(*fleet.dispatcher.tracks)
    order_id = fleet.order([consignment], docks(kim_thanh, here)[0], docks(kim_thanh, there)[0])
    fleet.release(consignment, direction)
    return fleet, order_id


@pytest.mark.parametrize(("here", "there", "direction"), [("VN", "CN", VN_CN), ("CN", "VN", CN_VN)])
def test_a_relay_order_changes_hands_at_the_pad(customs, kim_thanh, here, there, direction):
    fleet, order_id = _fleet_with_an_order(customs, kim_thanh, 4, f"{here}-400000000001", direction)
    violations: list[str] = []
    fleet.checks.append(lambda f: violations.extend(_off_their_side(f)))
    assert fleet.run(3600, until=lambda: fleet.state_of(order_id) == OrderState.DELIVERED), fleet.orders.get(order_id)
    assert not violations, violations[:5]
    order = fleet.orders.get(order_id)
    homes = {vid: t.record.home for vid, t in fleet.dispatcher.tracks.items()}
    assert homes[order.vehicle_id] == there  # delivered by the arrival side's vehicle
    handover = next(s for s in order.timeline if s.to_state == OrderState.TO_DROP)
    assert homes[handover.cause["from_vehicle_id"]] == here
    _delivered_across_the_pad(fleet, order_id, handover.cause["from_vehicle_id"], order.vehicle_id)
    # cleared from the release past the deliverer's gate towards the meeting, on a decision for it and the load
    states = [s.to_state for s in order.timeline]
    assert states[states.index(OrderState.LOADED):] == [OrderState.LOADED, OrderState.AWAITING_CLEARANCE,
                                                        OrderState.CLEARED, OrderState.CROSSING, OrderState.TO_DROP,
                                                        OrderState.DELIVERED]
    cleared = order.timeline[states.index(OrderState.CLEARED)]
    decision = next(r.body for r in fleet.store.audit_records() if r.seq == cleared.cause["decision_audit_seq"])
    assert decision["crossing_allowed"] and decision["vehicle_id"] == handover.cause["from_vehicle_id"]


def test_a_held_relay_load_stays_off_the_pad_until_the_hold_is_lifted(customs, kim_thanh):
    consignment = "VN-400000000002"
    fleet = make_fleet(customs, kim_thanh, 4)
    fleet.authorize(*fleet.dispatcher.tracks)
    order_id = fleet.order([consignment], docks(kim_thanh, "VN")[0], docks(kim_thanh, "CN")[0])
    fleet.release(consignment, VN_CN, customs.vn)
    violations: list[str] = []
    fleet.checks.append(lambda f: violations.extend(_on_the_pad_while_denied(f, consignment, VN_CN)))
    assert fleet.run(1800, until=lambda: fleet.state_of(order_id) == OrderState.AWAITING_CLEARANCE)
    # held while its vehicle waits at the gate (a consignment held before that waits in the yard, unassigned)
    assert fleet.dispatcher.gate.ingest(customs.cn.event("hold", consignment, direction=VN_CN), "test").acknowledged
    fleet.release(consignment, VN_CN, customs.cn)
    fleet.run(600)
    assert fleet.state_of(order_id) == OrderState.AWAITING_CLEARANCE
    assert not [r for r in fleet.store.audit_records() if r.kind == "crossing"]
    assert fleet.dispatcher.gate.ingest(customs.cn.event("hold.lifted", consignment, direction=VN_CN),
                                        "test").acknowledged
    assert fleet.run(3600, until=lambda: fleet.state_of(order_id) == OrderState.DELIVERED), fleet.orders.get(order_id)
    assert not violations, violations[:5]


def _meeting(fleet, order_id: str):
    """The order's two vehicles while they are paired for the meeting at the pad: (deliverer, receiver)."""
    deliverer = fleet.dispatcher.tracks.get(fleet.orders.get(order_id).vehicle_id or "")
    if deliverer is None or deliverer.job is None or deliverer.job.partner is None:
        return None
    return deliverer.id, deliverer.job.partner


def _both_on_the_pad(fleet, order_id: str) -> bool:
    pair = _meeting(fleet, order_id)
    return pair is not None and all(fleet.link.state(v).last_node_id == "handoff" for v in pair)


def _delivered_across_the_pad(fleet, order_id: str, deliverer: str, receiver: str) -> None:
    """Delivered by ``receiver``, with one custody record at the pad naming both vehicles and each one's own
    allowing gate decision."""
    order = fleet.orders.get(order_id)
    assert order.vehicle_id == receiver
    crossings = [r.body for r in fleet.store.audit_records() if r.kind == "crossing"]
    assert [(c["vehicle_id"], c["handed_over_by"], c["handoff"], c["consignments"]) for c in crossings] == [
        (receiver, deliverer, "handoff", order.consignments)]
    decisions = {r.seq: r.body for r in fleet.store.audit_records() if r.kind == "decision"}
    for seq, vehicle in ((crossings[0]["decision_audit_seq"], receiver),
                         (crossings[0]["handed_over_by_decision_seq"], deliverer)):
        assert decisions[seq]["crossing_allowed"] and decisions[seq]["vehicle_id"] == vehicle  # its own decision


def test_a_fleet_manager_restarted_mid_meeting_pairs_the_vehicles_at_the_pad_again(customs, kim_thanh):
    from tests.fleet.dispatch.test_loop import make_fleet_again

    consignment = "VN-400000000003"
    fleet, order_id = _fleet_with_an_order(customs, kim_thanh, 4, consignment)

    assert fleet.run(3600, until=lambda: _both_on_the_pad(fleet, order_id)), fleet.orders.get(order_id)
    deliverer, receiver = _meeting(fleet, order_id)
    restarted = make_fleet_again(fleet)  # the old dispatcher is gone, mid-transfer
    violations: list[str] = []
    restarted.checks.append(lambda f: violations.extend(_off_their_side(f)))
    assert restarted.run(3600, until=lambda: restarted.state_of(order_id) == OrderState.DELIVERED), \
        restarted.orders.get(order_id)
    assert not violations, violations[:5]
    _delivered_across_the_pad(restarted, order_id, deliverer, receiver)


def test_a_loaded_vehicle_past_its_gates_without_a_partner_is_paired_again(customs, kim_thanh):
    """The meeting is called off while the deliverer drives from its gate to the pad (the receiver is taken
    out of service for a moment): no gate of its side is on its way any more, and it still gets a partner."""
    consignment = "VN-400000000004"
    fleet, order_id = _fleet_with_an_order(customs, kim_thanh, 6, consignment)

    def past_the_gate() -> bool:
        pair = _meeting(fleet, order_id)
        return pair is not None and kim_thanh.nodes[fleet.link.state(pair[0]).last_node_id].kind != "gate"

    assert fleet.run(3600, until=past_the_gate), fleet.orders.get(order_id)
    deliverer, dropped = _meeting(fleet, order_id)
    fleet.dispatcher.set_in_service(dropped, False, "operator", "test: the receiver stops")
    fleet.run(5)
    assert _meeting(fleet, order_id) is None  # called off
    fleet.dispatcher.set_in_service(dropped, True, "operator", "test: back")  # out of the way again
    violations: list[str] = []
    fleet.checks.append(lambda f: violations.extend(_off_their_side(f)))
    assert fleet.run(3600, until=lambda: fleet.state_of(order_id) == OrderState.DELIVERED), fleet.orders.get(order_id)
    assert not violations, violations[:5]
    _delivered_across_the_pad(fleet, order_id, deliverer, fleet.orders.get(order_id).vehicle_id)


def test_deliverers_waiting_at_their_gates_leave_each_side_a_lane_to_the_pad(customs, kim_thanh):
    """Found by the fast simulator (kim_thanh delivered 1 of 7 orders in 4 h): a receiver reaches the pad only
    through its own side's outbound gate lanes, where that side's deliverers wait for their clearance and then for
    a partner. Two loads each way wait for clearance with four vehicles a side (two to carry, two kept free to
    receive, finding 10): before, the four deliverers took all four lanes, so neither side's free vehicle could
    reach the pad to receive and nothing was ever handed over. Now each side keeps a lane free of waiting
    deliverers (the second waits at an inspection bay)."""
    from tests.fleet.dispatch.test_waiting_places import _watched

    fleet = make_fleet(customs, kim_thanh, 8)
    fleet.authorize(*fleet.dispatcher.tracks)
    states = _watched(fleet)
    violations: list[str] = []
    fleet.checks.append(lambda f: violations.extend(_off_their_side(f)))
    loads = {f"{here}-40000000001{i}": (here, there) for here, there in (("VN", "CN"), ("CN", "VN")) for i in range(2)}
    orders = [fleet.order([c], docks(kim_thanh, here)[i % 2], docks(kim_thanh, there)[i % 2])
              for i, (c, (here, there)) in enumerate(loads.items())]
    fleet.run(1500)  # loaded, and at their gates or waiting for one
    assert all(states.get(o) in (OrderState.LOADED, OrderState.AWAITING_CLEARANCE) for o in orders), states
    for consignment, (here, there) in loads.items():
        fleet.release(consignment, f"{here}->{there}")
    handed_over = (OrderState.TO_DROP, OrderState.DELIVERED)
    assert fleet.run(3600, until=lambda: all(states.get(o) in handed_over for o in orders)), states
    assert not violations, violations[:5]


def _track_on(plan_nodes: list[str], reached: int) -> Track:
    steps = tuple(Step(node, 10.0 * k, 10.0 * k + 5.0) for k, node in enumerate(plan_nodes))
    track = Track(VehicleRecord(id="agv_020", home="CN", start_node="cn_parking_1"), VehicleProfile(),
                  plan=TimedPlan("agv_020", steps), reached=reached)
    track.arrived_at = {k: 10.0 * k for k in range(reached + 1)}
    return track


def test_a_receiver_driving_over_the_pad_is_not_there_for_the_transfer():
    """Seen in a day of kim_thanh (8 h): a receiver stalled on its way to the pad got the planner's fallback, a
    plan over the pad to a waiting place beyond it, without the custody stop. It counted as at the pad when it
    drove over it, and the handoff was recorded 180 s later with the receiver far past the pad, its container
    left behind; it came round again through the pad and locked the next meeting's deliverer out (a ring)."""
    over = _track_on(["cn_deck_out_1", "handoff", "cn_deck_in_1", "cn_deck_in_0"], reached=3)
    assert custody_arrival(over, 100.0, "handoff") is None
    standing = _track_on(["cn_deck_out_1", "handoff"], reached=1)  # stalled where it stands, on the pad
    assert custody_arrival(standing, 100.0, "handoff") == 10.0


def test_the_whole_fleet_is_not_planned_again_during_a_transfer_at_the_pad(customs, kim_thanh):
    """Seen in a day of kim_thanh (07:12): a vehicle stalled elsewhere made the whole fleet be planned again in the
    tick the transfer began; both vehicles on the pad got plans without the custody stop and drove off, while the
    next meeting, paired once both were there, came onto the lanes to the pad: a ring, nothing crossed after it."""
    consignment = "VN-400000000006"
    fleet, order_id = _fleet_with_an_order(customs, kim_thanh, 4, consignment)

    assert fleet.run(3600, until=lambda: _both_on_the_pad(fleet, order_id)), fleet.orders.get(order_id)
    dispatcher = fleet.dispatcher
    pair = _meeting(fleet, order_id)
    plans = {v: dispatcher.tracks[v].plan for v in pair}
    bystander = next(tr for tr in dispatcher.tracks.values() if tr.id not in pair)
    t = dispatcher.now()
    bystander.stalled_since = t - 120.0  # stalled long elsewhere: what makes the whole fleet be planned again
    dispatcher._replan_pending(t)
    assert {v: dispatcher.tracks[v].plan for v in pair} == plans  # the meeting keeps its plans, custody stop and all
    deliverer, receiver = pair
    assert fleet.run(3600, until=lambda: fleet.state_of(order_id) == OrderState.DELIVERED), fleet.orders.get(order_id)
    _delivered_across_the_pad(fleet, order_id, deliverer, receiver)


def _standing(customs, kim_thanh, mover: str, blockers: list[str], job) -> Track:
    """One vehicle at ``mover`` with the job ``job(fleet)`` gives it, and one parked at each of ``blockers``,
    planned once: the mover's track."""
    fleet = make_fleet(customs, kim_thanh, 0, starts=[mover, *blockers])
    fleet.authorize(*fleet.dispatcher.tracks)
    track = fleet.dispatcher.tracks["agv_001"]
    track.job = job(fleet)
    fleet.run(0.5)  # the first plan of the fleet
    assert track.plan is not None
    return track


def _order_in(fleet, consignment: str, direction: str, state: OrderState):
    here, there = direction.split("->")
    pickup, drop = docks(fleet.corridor, here)[0], docks(fleet.corridor, there)[0]
    order = fleet.orders.get(fleet.order([consignment], pickup, drop))
    return order.model_copy(update={"state": state})


def test_a_deliverer_with_no_place_to_wait_is_not_left_at_an_inbound_gate(customs, kim_thanh):
    """Seen in a day of kim_thanh (10:30): CN deliverers that found every outbound gate lane and every bay on
    their way taken were sent by the planner's fallback to the nearest place a vehicle may wait, an inbound
    gate, where they held the receivers' only way home from the pad. Now a deliverer is never left there."""
    bays = ["cn_gate_out_1", "cn_gate_out_2", "cn_hold_1", "cn_hold_2", "cn_hold_3", "cn_insp_1", "cn_insp_2"]
    deliverer = _standing(customs, kim_thanh, "cn_in_arrival", bays, lambda fleet: Job(
        JobKind.HAND_OVER, ("handoff",), _order_in(fleet, "CN-400000000020", CN_VN, OrderState.LOADED)))
    inbound = {n.id for n in kim_thanh.nodes_of(NodeKind.GATE) if "_in_" in n.id}
    assert deliverer.plan.end not in inbound, [s.node for s in deliverer.plan.steps]


def test_an_empty_vehicle_is_never_sent_onto_a_lane_to_the_pad(customs, kim_thanh):
    """Seen in a day of kim_thanh (10:30): empty VN vehicles on their way to a pickup stood on the outbound gate
    lanes and the deck before the pad, the only way the receivers have to it, sent there by the planner's
    fallback (the nearest place to wait). Now a vehicle with no meeting keeps off the pad and the lanes to it."""
    pickup = docks(kim_thanh, "CN")[0]  # taken for good: the vehicle on its way there waits somewhere
    empty = _standing(customs, kim_thanh, "cn_insp_junction", ["cn_insp_1", "cn_insp_2", pickup], lambda fleet: Job(
        JobKind.DELIVER, (docks(kim_thanh, "VN")[0],),
        _order_in(fleet, "CN-400000000021", CN_VN, OrderState.TO_PICKUP)))
    lanes = {"handoff", "cn_gate_out_1", "cn_gate_out_2", "cn_out_pregate", "cn_out_post", "cn_deck_out_0",
             "cn_deck_out_1"}
    assert not lanes & {s.node for s in empty.plan.steps}, [s.node for s in empty.plan.steps]


def test_a_vehicle_stalled_on_the_pad_is_planned_on_after_the_handoff(customs, kim_thanh):
    """Seen in a day of kim_thanh (07:00): a full replan left a deliverer standing on the pad (the planner's
    fallback, a plan that ends there); the transfer was recorded and it had a job home, but no plan away, and
    nothing planned it again while the other vehicles only queued for a gate lane: the pad was taken for good
    and nothing crossed after it. Now both vehicles of a handoff that stand on the pad are planned on."""
    consignment = "VN-400000000022"
    fleet, order_id = _fleet_with_an_order(customs, kim_thanh, 4, consignment)
    assert fleet.run(3600, until=lambda: _both_on_the_pad(fleet, order_id)), fleet.orders.get(order_id)
    dispatcher = fleet.dispatcher
    deliverer = dispatcher.tracks[_meeting(fleet, order_id)[0]]
    t = dispatcher.now()
    stand = TimedPlan(deliverer.id, (Step("handoff", t, INF),))
    dispatcher.planner.table.release(deliverer.id)
    dispatcher.planner.table.reserve(stand)
    dispatcher._adopt(deliverer, stand, t)  # what the fallback of a full replan gave it
    assert fleet.run(1800, until=lambda: fleet.state_of(order_id) == OrderState.DELIVERED), fleet.orders.get(order_id)
    assert fleet.run(600, until=lambda: fleet.link.state(deliverer.id).last_node_id != "handoff"), deliverer.plan


def test_each_side_keeps_a_receiver_for_every_load_on_its_way(customs, kim_thanh):
    """Seen in a day of kim_thanh (from 12:00): the assignment gave every free vehicle a pickup, until all 30 were
    loaded deliverers waiting for a partner and none of either side was left free to receive: no meeting could be
    paired and nothing crossed again. One vehicle a side and one load each way are the smallest such fleet: before,
    both took a load and waited for each other for good. Now an order is given out only while the arrival side
    keeps a free vehicle for every load bound for it (and the departure side one for those bound for it)."""
    fleet = make_fleet(customs, kim_thanh, 2)
    fleet.authorize(*fleet.dispatcher.tracks)
    orders = []
    for here, there in (("VN", "CN"), ("CN", "VN")):
        consignment = f"{here}-400000000030"
        orders.append(fleet.order([consignment], docks(kim_thanh, here)[0], docks(kim_thanh, there)[0]))
        fleet.release(consignment, f"{here}->{there}")
    violations: list[str] = []
    fleet.checks.append(lambda f: violations.extend(_off_their_side(f)))
    assert fleet.run(7200, until=lambda: all(fleet.state_of(o) == OrderState.DELIVERED for o in orders)), \
        [fleet.orders.get(o).state for o in orders]
    assert not violations, violations[:5]


def test_a_receiver_whose_drop_dock_is_taken_meets_and_waits_at_a_holding_bay(customs, kim_thanh):
    """Seen in a day of kim_thanh (before 12:00): a meeting was not paired while the receiver's drop dock was
    taken for good ("every goal (vn_dock_2) is taken for good"), by a deliverer loaded there waiting for a gate
    lane, while the cleared deliverer of the meeting held a gate lane of its side: no meeting could be paired
    again. Now the receiver meets anyway, takes the load to a holding bay of its side, and on to the dock once
    it is free. Here the dock is taken by a vehicle out of service on it."""
    drop = docks(kim_thanh, "CN")[0]
    fleet = make_fleet(customs, kim_thanh, 0, starts=["vn_parking_1", "cn_parking_1", drop])
    fleet.authorize(*fleet.dispatcher.tracks)
    dispatcher = fleet.dispatcher
    dispatcher.set_in_service("agv_003", False, "operator", "test: broken down on the dock")
    consignment = "VN-400000000031"
    order_id = fleet.order([consignment], docks(kim_thanh, "VN")[0], drop)
    fleet.release(consignment, VN_CN)
    assert fleet.run(3600, until=lambda: fleet.state_of(order_id) == OrderState.TO_DROP), fleet.orders.get(order_id)
    receiver = dispatcher.tracks["agv_002"]
    assert fleet.run(900, until=lambda: fleet.link.state(receiver.id).last_node_id.startswith("cn_hold_"))
    assert fleet.state_of(order_id) == OrderState.TO_DROP  # it waits there, load aboard
    dispatcher.set_in_service("agv_003", True, "operator", "test: repaired, it drives off")
    assert fleet.run(1800, until=lambda: fleet.state_of(order_id) == OrderState.DELIVERED), fleet.orders.get(order_id)
    _delivered_across_the_pad(fleet, order_id, "agv_001", receiver.id)


def test_a_cancel_during_the_handoff_says_the_load_changes_hands_at_the_pad(customs, kim_thanh):
    """Found trying relay mode as a dispatcher: the 409 for a cancel while the load changed hands at the pad spoke
    of "the crossing lanes", which no vehicle of a relay corridor drives."""
    fleet, order_id = _fleet_with_an_order(customs, kim_thanh, 4, "VN-400000000031")
    assert fleet.run(3600, until=lambda: fleet.state_of(order_id) == OrderState.CROSSING)
    with pytest.raises(OrderError) as refused:
        fleet.dispatcher.cancel_order(order_id, "changed my mind", "dispatcher")
    assert refused.value.status == 409 and "handoff" in str(refused.value) and "crossing lanes" not in str(
        refused.value), str(refused.value)
    assert fleet.run(3600, until=lambda: fleet.state_of(order_id) == OrderState.DELIVERED)
