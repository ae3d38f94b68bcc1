"""Relay (Kim Thanh - Bac Son) when luck is bad, driven as an operator would meet it: a vehicle of the meeting at
the handoff pad breaks down there, the clearance goes mid-transfer, a dispatcher cancels an order whose load is on
the pad. What must hold: no load changes custody without both clearances and a recorded handoff, no load is lost
(it is aboard a vehicle whose job or order says so), and nothing stands for good without saying why."""

from __future__ import annotations

import pytest
from agv_agent.protocol import AgvError, ErrorLevel

from fleet.alarms import AlarmKind
from fleet.maps import load_corridor
from fleet.orders import OrderState
from planner.corridor import Corridor, NodeKind
from tests.fleet.dispatch.conftest import CN_VN, VN_CN, docks, make_fleet

PAD = "handoff"
FATAL = AgvError("driveError", ErrorLevel.FATAL, "drive motor over temperature")


@pytest.fixture(scope="module")
def kim_thanh() -> Corridor:
    return load_corridor("maps/kim_thanh")


def _relay_order(customs, kim_thanh, consignment: str, direction: str):
    """Four vehicles (two a side, all authorized) and one order across, released by both authorities."""
    here, there = direction.split("->")
    fleet = make_fleet(customs, kim_thanh, 4)
    fleet.authorize(*fleet.dispatcher.tracks)
    order = fleet.order([consignment], docks(kim_thanh, here)[0], docks(kim_thanh, there)[0])
    fleet.release(consignment, direction)
    return fleet, order


def _meeting(fleet, order: str) -> tuple[str, str] | None:
    """(deliverer, receiver) while the order's meeting at the pad is set up."""
    deliverer = fleet.dispatcher.tracks.get(fleet.orders.get(order).vehicle_id or "")
    if deliverer is None or deliverer.job is None or deliverer.job.partner is None:
        return None
    return deliverer.id, deliverer.job.partner


def _on_the_pad(fleet, vehicle: str) -> bool:
    return fleet.link.state(vehicle).last_node_id == PAD


def test_a_load_cancelled_on_the_pad_goes_to_a_bay_of_its_vehicles_own_side(customs, kim_thanh):
    """Found by hand: a dispatcher cancelled a CN->VN order while its CN deliverer waited on the pad for its VN
    partner. The pad is a node of the VN side on the map, so the load was to be held at a VN bay, none of which a
    CN vehicle can reach: it was held where it stood, on the pad, for good ("holds CN-... at handoff"), and the VN
    vehicle on its way to the meeting, whose only way home is over the pad, stood before it for good. Now the load
    goes back to a holding bay of the CN side, and the pad is free again."""
    fleet, order = _relay_order(customs, kim_thanh, "CN-400000000501", CN_VN)

    def deliverer_alone_on_the_pad() -> bool:
        pair = _meeting(fleet, order)
        return pair is not None and _on_the_pad(fleet, pair[0]) and not _on_the_pad(fleet, pair[1])

    assert fleet.run(3600, until=deliverer_alone_on_the_pad), fleet.orders.get(order)
    deliverer, receiver = _meeting(fleet, order)
    fleet.dispatcher.cancel_order(order, "shipper withdrew it", "operator")
    track = fleet.dispatcher.tracks[deliverer]
    assert fleet.run(1800, until=lambda: track.job is not None and track.job.held_at is not None), track.job
    bay = kim_thanh.nodes[track.job.held_at]
    assert bay.jurisdiction == "CN" and bay.kind in (NodeKind.HOLDING, NodeKind.INSPECTION), bay
    assert track.record.held_load.consignments == ["CN-400000000501"]
    assert fleet.run(1800, until=lambda: fleet.dispatcher.tracks[receiver].job is None
                     and kim_thanh.nodes[fleet.link.state(receiver).last_node_id].kind == NodeKind.PARKING)
    assert fleet.orders.get(order).state == OrderState.CANCELLED


def _transfer_under_way(customs, kim_thanh, consignment: str):
    """A VN->CN relay order whose two vehicles stand on the pad for their transfer: (fleet, order, deliverer,
    receiver)."""
    fleet, order = _relay_order(customs, kim_thanh, consignment, VN_CN)

    def both_on_the_pad() -> bool:
        pair = _meeting(fleet, order)
        return pair is not None and all(_on_the_pad(fleet, v) for v in pair)

    assert fleet.run(3600, until=both_on_the_pad), fleet.orders.get(order)
    return (fleet, order, *_meeting(fleet, order))


def _handoffs(fleet) -> list[tuple[str, str]]:
    """The custody handoffs recorded: (receiver, deliverer) each."""
    return [(r.body["vehicle_id"], r.body.get("handed_over_by")) for r in fleet.store.audit_records()
            if r.kind == "crossing"]


def _load_with_its_deliverer(fleet, order: str, deliverer: str) -> None:
    """The load still aboard the deliverer on the pad, the order saying so."""
    stored = fleet.orders.get(order)
    assert (stored.state, stored.vehicle_id) == (OrderState.CROSSING, deliverer), stored
    job = fleet.dispatcher.tracks[deliverer].job
    assert job is not None and job.order is not None and job.order.id == order, job
    assert _on_the_pad(fleet, deliverer) and not _handoffs(fleet)


@pytest.mark.parametrize("broken", ["deliverer", "receiver"])
def test_a_vehicle_that_breaks_down_on_the_pad_mid_transfer_keeps_its_partner_and_the_load_waits(
        customs, kim_thanh, broken):
    """Found by hand: a vehicle of a meeting broke down (FATAL) on the pad mid-transfer. The meeting was called off
    as for one on its way: a broken receiver left the deliverer to be planned again from the pad with the meeting's
    old request (its first stop, a wait where it had set off, still to make), and it drove off with the load, its
    job then ended at the parking spot, the order `crossing` on a vehicle standing in its yard for good; a broken
    deliverer left the receiver with no job on the pad, sent to park on the VN side (the pad's on the map), which it
    cannot reach. Now both wait on the pad with the load aboard the deliverer, saying why, and the handoff is made
    once the broken one is repaired."""
    fleet, order, deliverer, receiver = _transfer_under_way(customs, kim_thanh, "VN-400000000502")
    out, waiting = (deliverer, receiver) if broken == "deliverer" else (receiver, deliverer)
    fleet.link._vehicles[out].logic.errors = [FATAL]
    fleet.run(900)
    _load_with_its_deliverer(fleet, order, deliverer)
    assert _on_the_pad(fleet, waiting) and fleet.dispatcher.tracks[waiting].job.partner == out
    said = fleet.dispatcher.vehicle(waiting).stalled_because or ""
    assert out in said and "drive motor over temperature" in said, said
    fleet.link._vehicles[out].logic.errors = []  # repaired
    assert fleet.run(1800, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.orders.get(order)
    assert _handoffs(fleet) == [(receiver, deliverer)]
    assert fleet.orders.get(order).vehicle_id == receiver


@pytest.mark.parametrize("lost", ["hold", "customs link down"])
def test_a_clearance_lost_mid_transfer_keeps_the_load_with_its_deliverer_until_it_is_back(customs, kim_thanh, lost):
    """Found by hand: CN customs put the load on hold while both vehicles stood on the pad for the transfer. The
    handoff was recorded all the same once the transfer time was up, and the receiver drove the held load into
    China. Now the handoff waits, on the pad, for both clearances (asked again at the handoff, as at the pad's
    entry), the case flagged to both customs and each vehicle saying why; it is made once the gate rule allows
    both again."""
    consignment = "VN-400000000503"
    fleet, order, deliverer, receiver = _transfer_under_way(customs, kim_thanh, consignment)
    gate = fleet.dispatcher.gate
    if lost == "hold":
        assert gate.ingest(customs.cn.event("hold", consignment, direction=VN_CN), "test").acknowledged
        fleet.run(900)
    else:
        fleet.run(900, heartbeats=False)  # neither authority heard from for longer than the link timeout
    _load_with_its_deliverer(fleet, order, deliverer)
    assert _on_the_pad(fleet, receiver)
    flagged = [a for a in fleet.dispatcher.alarms.list(limit=50)[0] if a.kind == AlarmKind.CROSSING_FLAGGED]
    assert [a.subject for a in flagged] == [deliverer] and "during the transfer" in flagged[0].message, flagged
    for vehicle in (deliverer, receiver):
        said = fleet.dispatcher.vehicle(vehicle).stalled_because or ""
        assert "handoff" in said and ("hold" in said if lost == "hold" else "link" in said), said
    if lost == "hold":
        assert gate.ingest(customs.cn.event("hold.lifted", consignment, direction=VN_CN), "test").acknowledged
    assert fleet.run(1800, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.orders.get(order)
    assert _handoffs(fleet) == [(receiver, deliverer)]


def test_a_load_cleared_at_its_gate_with_the_pad_taken_for_good_says_by_whom(customs, kim_thanh):
    """Found by hand: a vehicle with no job stood on the pad out of service (broken down there). A load cleared at
    its gate waited, as it must, with the reason "its meeting at the handoff pad is not planned yet: tried again"
    in its gate's queue for as long as that lasted: nothing said that the pad was taken, nor by whom. Now the
    queue names the vehicle on the pad and why it stays there."""
    consignment = "VN-400000000504"
    fleet = make_fleet(customs, kim_thanh, 0, starts=["vn_parking_1", "cn_parking_1", PAD])
    fleet.authorize(*fleet.dispatcher.tracks)
    fleet.dispatcher.set_in_service("agv_003", False, "operator", "broken down on the pad")
    order = fleet.order([consignment], docks(kim_thanh, "VN")[0], docks(kim_thanh, "CN")[0])
    fleet.release(consignment, VN_CN)
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.AWAITING_CLEARANCE)
    fleet.run(120)
    [waiting] = [w for gate in fleet.dispatcher.gates() for w in gate.queue]
    assert waiting.vehicle_id == "agv_001" and not waiting.allowed, waiting
    assert any("agv_003" in r and "broken down on the pad" in r for r in waiting.reasons), waiting.reasons
    assert fleet.state_of(order) == OrderState.AWAITING_CLEARANCE and _meeting(fleet, order) is None
