"""A vehicle that takes none of the orders it is sent (a VDA 5050 vendor vehicle that ignores every ``order``
message, a ROS agent whose order subscription broke)."""

from __future__ import annotations

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def _deafen(fleet, vehicle_id: str) -> list:
    """``vehicle_id`` hears no order any more; the list to empty (``.append``) to let it hear again."""
    real, deaf = fleet.link.send_order, [True]

    def send(vehicle, order) -> None:
        if vehicle == vehicle_id and deaf:
            fleet.link.sent_orders.append((fleet.customs.clock.now, vehicle, order))
            return
        real(vehicle, order)

    fleet.link.send_order = send
    return deaf


def test_an_order_sent_again_to_a_vehicle_that_never_took_one_starts_where_it_stands(customs, corridor):
    """Deaf for a while before its first order was taken: the order sent again every 3 s started where the
    release step had released it to (its pickup dock), which the vehicle, standing at its parking spot, refused
    once it heard (VDA 5050: a new order starts where the vehicle stands)."""
    fleet = make_fleet(customs, corridor, 1, starts=["vn_parking_2"])
    fleet.authorize("agv_001")
    deaf = _deafen(fleet, "agv_001")
    order = fleet.order(["VN-100000000005"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000005", VN_CN)
    fleet.run(20)
    deaf.clear()
    assert fleet.run(10, until=lambda: fleet.state_of(order) == OrderState.TO_PICKUP), \
        [e.description for e in fleet.link.state("agv_001").errors]
