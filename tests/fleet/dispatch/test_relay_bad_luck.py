"""Relay (Kim Thanh - Bac Son) when luck is bad, driven as an operator would meet it: a vehicle of the meeting at
the handoff pad breaks down there, the clearance goes mid-transfer, a dispatcher cancels an order whose load is on
the pad. What must hold: no load changes custody without both clearances and a recorded handoff, no load is lost
(it is aboard a vehicle whose job or order says so), and nothing stands for good without saying why."""

from __future__ import annotations

import pytest

from fleet.maps import load_corridor
from fleet.orders import OrderState
from planner.corridor import Corridor, NodeKind
from tests.fleet.dispatch.conftest import CN_VN, docks, make_fleet

PAD = "handoff"


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
