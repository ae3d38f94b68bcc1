"""Relay mode in one process (Kim Thanh - Bac Son): a vehicle of the departure side brings the load to the
handoff pad, a vehicle of the arrival side takes it on; neither leaves its side, both enter the pad only on a
gate decision that allows them, and the custody handoff names both."""

from __future__ import annotations

import pytest

from fleet.maps import load_corridor
from fleet.orders import OrderState
from planner.corridor import Corridor, NodeKind
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
    gate = fleet.dispatcher.gate
    return [vid for vid in fleet.dispatcher.tracks if fleet.link.state(vid).last_node_id == "handoff"
            and not gate.evaluate(vid, direction, [consignment]).allowed]


@pytest.mark.parametrize(("here", "there", "direction"), [("VN", "CN", VN_CN), ("CN", "VN", CN_VN)])
def test_a_relay_order_changes_hands_at_the_pad(customs, kim_thanh, here, there, direction):
    fleet = make_fleet(customs, kim_thanh, 4)
    fleet.authorize(*fleet.dispatcher.tracks)
    consignment = f"{here}-400000000001"
    order_id = fleet.order([consignment], docks(kim_thanh, here)[0], docks(kim_thanh, there)[0])
    fleet.release(consignment, direction)
    violations: list[str] = []
    fleet.checks.append(lambda f: violations.extend(_off_their_side(f)))
    assert fleet.run(3600, until=lambda: fleet.state_of(order_id) == OrderState.DELIVERED), fleet.orders.get(order_id)
    assert not violations, violations[:5]
    order = fleet.orders.get(order_id)
    homes = {vid: t.record.home for vid, t in fleet.dispatcher.tracks.items()}
    assert homes[order.vehicle_id] == there  # delivered by the arrival side's vehicle
    handover = next(s for s in order.timeline if s.to_state == OrderState.TO_DROP)
    assert homes[handover.cause["from_vehicle_id"]] == here
    crossings = [r.body for r in fleet.store.audit_records() if r.kind == "crossing"]
    assert len(crossings) == 1
    crossing = crossings[0]
    assert (crossing["vehicle_id"], crossing["handed_over_by"], crossing["handoff"], crossing["consignments"]) == (
        order.vehicle_id, handover.cause["from_vehicle_id"], "handoff", [consignment])
    decisions = {r.seq: r.body for r in fleet.store.audit_records() if r.kind == "decision"}
    for seq, vehicle in ((crossing["decision_audit_seq"], crossing["vehicle_id"]),
                         (crossing["handed_over_by_decision_seq"], crossing["handed_over_by"])):
        assert decisions[seq]["crossing_allowed"] and decisions[seq]["vehicle_id"] == vehicle  # its own decision


def test_a_held_relay_load_stays_off_the_pad_until_the_hold_is_lifted(customs, kim_thanh):
    fleet = make_fleet(customs, kim_thanh, 4)
    fleet.authorize(*fleet.dispatcher.tracks)
    consignment = "VN-400000000002"
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
