"""An operator's hold on an arrival gate (the gates a vehicle passes after crossing into the other side). By hand:
with ``cn_gate_in_1`` held, vehicles bound for China were still sent on towards it. Now a vehicle is not sent
through a held arrival gate: it goes through another one of that side, or, with all of them held, waits at its
own side's departure gate (off the bridge), shown in that gate's queue with the hold's reason."""

from __future__ import annotations

import pytest

from fleet.orders import OrderState
from planner.corridor import NodeKind
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet

S = OrderState
CN_ARRIVAL_GATES = ("cn_gate_in_1", "cn_gate_in_2")


def _carrying(customs, corridor, consignment: str):
    """One authorized vehicle with a VN->CN order both customs released; every node it reaches, in order."""
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    order = fleet.order([consignment], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release(consignment, VN_CN)
    visited: list[str] = []

    def watch(f) -> None:
        node = f.link.state("agv_001").last_node_id
        if not visited or visited[-1] != node:
            visited.append(node)

    fleet.checks.append(watch)
    return fleet, order, visited


def test_a_vehicle_bound_for_a_side_whose_arrival_gates_are_all_held_waits_at_its_own_gate(customs, corridor):
    fleet, order, visited = _carrying(customs, corridor, "VN-100000000951")
    for gate in CN_ARRIVAL_GATES:
        fleet.dispatcher.hold_gate(gate, "operator", "arrival lane inspection")
    fleet.run(2400)
    here = fleet.link.state("agv_001").last_node_id
    assert here.startswith("vn_gate_out_") and "vn_out_post" not in visited, visited
    assert fleet.state_of(order) == S.AWAITING_CLEARANCE
    [(gate, entry)] = [(g.id, w) for g in fleet.dispatcher.gates() for w in g.queue]
    assert gate == here and entry.vehicle_id == "agv_001" and not entry.allowed, entry
    assert entry.reasons[0] == "gate cn_gate_in_1 held: arrival lane inspection", entry.reasons
    assert {g.id for g in fleet.dispatcher.gates() if g.held} == set(CN_ARRIVAL_GATES)
    fleet.dispatcher.release_gate("cn_gate_in_2", "operator", "lane clear")
    assert fleet.run(2400, until=lambda: fleet.state_of(order) == S.DELIVERED), visited
    assert "cn_gate_in_1" not in visited and "cn_gate_in_2" in visited, visited


@pytest.mark.parametrize("held", CN_ARRIVAL_GATES)
def test_a_vehicle_goes_through_the_arrival_gate_not_held(customs, corridor, held):
    """One of the two held after the vehicle was cleared and planned on (through either): it goes through the
    other; the order awaits clearance again only while its plan went through the held one."""
    fleet, order, visited = _carrying(customs, corridor, f"VN-10000000096{held[-1]}")
    assert fleet.run(1200, until=lambda: "vn_out_post" in visited)  # cleared, planned on to its drop dock
    fleet.dispatcher.hold_gate(held, "operator", "arrival lane inspection")
    assert fleet.run(2400, until=lambda: fleet.state_of(order) == S.DELIVERED), visited
    assert held not in visited and set(CN_ARRIVAL_GATES) & set(visited), visited


def test_a_vehicle_across_when_every_arrival_gate_is_held_drives_on_through(customs, corridor):
    """Across already (on the bridge deck of the far side) it must not stop there: it drives on through the held
    gate to its drop dock."""
    fleet, order, visited = _carrying(customs, corridor, "VN-100000000971")
    assert fleet.run(2400, until=lambda: "cn_deck_in_1" in visited)
    for gate in CN_ARRIVAL_GATES:
        fleet.dispatcher.hold_gate(gate, "operator", "arrival lane inspection")
    assert fleet.run(2400, until=lambda: fleet.state_of(order) == S.DELIVERED), visited


def test_a_vehicle_does_not_go_to_park_across_while_every_arrival_gate_there_is_held(customs, corridor):
    """Every parking spot of its side taken, a vehicle parks on the other side, driving empty across; with every
    arrival gate there held it would only wait for the hold on the bridge: it stays on its side."""
    at = docks(corridor, "VN")[0]
    fleet = make_fleet(customs, corridor, 1, starts=[at])
    fleet.authorize("agv_001")
    dispatcher = fleet.dispatcher
    for spot in corridor.nodes_of(NodeKind.PARKING, jurisdiction="VN"):
        dispatcher.planner.table.hold_place(f"parked_{spot.id}", spot.id, dispatcher.now())
    track = dispatcher.tracks["agv_001"]
    assert corridor.nodes[dispatcher._park_job(track, at).goals[0]].jurisdiction == "CN"
    for gate in CN_ARRIVAL_GATES:
        dispatcher.hold_gate(gate, "operator", "arrival lane inspection")
    assert corridor.nodes[dispatcher._park_job(track, at).goals[0]].jurisdiction == "VN"


def test_relay_a_deliverer_whose_load_is_bound_for_a_side_with_every_arrival_gate_held_waits_at_its_gate(
        customs, kim_thanh):
    """Relay: the receiver's way home from the pad passes the held gates, so it would stand short of the pad
    with the deliverer, both on the bridge, for as long as the hold lasts. The deliverer is not let go at its
    gate (in its queue, with the hold's reason) and no receiver is sent; released, the load is handed over."""
    fleet = make_fleet(customs, kim_thanh, 4)
    fleet.authorize(*fleet.dispatcher.tracks)
    order = fleet.order(["VN-400000000981"], docks(kim_thanh, "VN")[0], docks(kim_thanh, "CN")[0])
    fleet.release("VN-400000000981", VN_CN)
    for gate in CN_ARRIVAL_GATES:
        fleet.dispatcher.hold_gate(gate, "operator", "arrival lane inspection")
    fleet.run(2400)
    [(gate, entry)] = [(g.id, w) for g in fleet.dispatcher.gates() for w in g.queue]
    assert fleet.link.state(entry.vehicle_id).last_node_id == gate and gate.startswith("vn_gate_out_")
    assert entry.reasons[0] == "gate cn_gate_in_1 held: arrival lane inspection" and not entry.allowed, entry
    assert fleet.dispatcher.tracks[entry.vehicle_id].job.partner is None
    assert fleet.state_of(order) == S.AWAITING_CLEARANCE
    fleet.dispatcher.release_gate("cn_gate_in_1", "operator", "lane clear")
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == S.DELIVERED), fleet.orders.get(order)
