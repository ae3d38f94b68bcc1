"""An emergency stop, then its release: a vehicle keeps the order it had not loaded yet for a while
(``reassign_after_s``), so that a stop of the whole fleet does not deal the orders out anew."""

from __future__ import annotations

import pytest

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, Fleet, docks, make_fleet


def _four_on_their_way(customs, corridor) -> tuple[Fleet, list[str]]:
    fleet = make_fleet(customs, corridor, 4, starts=["vn_parking_1", "vn_parking_10", "vn_parking_2", "vn_parking_11"])
    fleet.authorize("agv_001", "agv_002", "agv_003", "agv_004")
    consignments = [f"VN-10000000000{i}" for i in range(1, 5)]
    orders = [fleet.order([c], dock, docks(corridor, "CN")[i])
              for i, (c, dock) in enumerate(zip(consignments, docks(corridor, "VN"), strict=False))]
    for consignment in consignments:
        fleet.release(consignment, VN_CN)
    assert fleet.run(120, until=lambda: all(fleet.state_of(o) == OrderState.TO_PICKUP for o in orders))
    fleet.run(20)
    return fleet, orders


def _carriers(fleet: Fleet, orders: list[str]) -> dict[str, str | None]:
    return {o: fleet.orders.get(o).vehicle_id for o in orders}


def test_orders_stay_with_their_vehicles_through_an_emergency_stop_of_the_fleet(customs, corridor):
    """Found by hand: four vehicles on their way to load, `POST /vehicles/emergency-stop`, its release ten seconds
    later: every order went back to `created` and out again, to the two vehicles that stood first; the other two
    drove on (their released ways) to the docks of those orders, and the two given them stood stalled, "every
    goal is taken for good by another vehicle", for minutes, with three orders waiting."""
    fleet, orders = _four_on_their_way(customs, corridor)
    before = _carriers(fleet, orders)
    fleet.dispatcher.emergency_stop_all("operator", "drill")
    fleet.run(10)
    fleet.dispatcher.release_emergency_stop_all("operator", "drill over")
    fleet.run(5)
    assert _carriers(fleet, orders) == before
    assert all(fleet.state_of(o) == OrderState.TO_PICKUP for o in orders)
    assert fleet.run(3600, until=lambda: all(fleet.state_of(o) == OrderState.DELIVERED for o in orders)), \
        {o: fleet.state_of(o) for o in orders}
    assert _carriers(fleet, orders) == before
    reassigned = [t.reason for o in orders for t in fleet.orders.get(o).timeline if "re-assigned" in t.reason]
    assert reassigned == []


@pytest.mark.parametrize("stopped_s", [30, 90])
def test_a_vehicle_stopped_for_long_gives_its_order_to_another(customs, corridor, stopped_s):
    fleet, orders = _four_on_their_way(customs, corridor)
    keep_s = fleet.dispatcher.settings.reassign_after_s
    order = orders[0]
    vehicle = fleet.orders.get(order).vehicle_id
    assert vehicle is not None
    fleet.dispatcher.act(vehicle, "emergency_stop", "operator", "a person on the lane")
    fleet.run(stopped_s)
    assert fleet.state_of(order) == (OrderState.TO_PICKUP if stopped_s < keep_s else OrderState.CREATED)
    if stopped_s > keep_s:
        fleet.dispatcher.act(vehicle, "release_emergency_stop", "operator", "lane clear")
        assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED)
        taken_back = [t.reason for t in fleet.orders.get(order).timeline if t.to_state == OrderState.CREATED][1:]
        assert taken_back == [f"{vehicle} unavailable (emergency stop (REMOTE)): to be re-assigned"]
