"""An order is ``to_pickup`` ("the vehicle accepted its order") once the vehicle holds the update that gave it the
job, not before. Found by trying a VDA 5050 vehicle that never takes an order: standing at rest on its parking
order, it was sent the job as an update of that order, which it ignored; at its next state the order said
``to_pickup``, the vehicle's view its way to the dock released, for the ten minutes it stood there."""

from __future__ import annotations

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def test_an_update_the_vehicle_does_not_take_does_not_make_its_order_accepted(customs, corridor):
    fleet = make_fleet(customs, corridor, 1, starts=["vn_parking_2"])
    fleet.authorize("agv_001")
    fleet.run(5)
    send = fleet.link.send_order
    fleet.link.send_order = lambda vehicle_id, order: None  # deaf: it takes no order nor update
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN)
    fleet.run(30)  # (within reassign_after_s: then it would be taken for deaf, test_deaf_vehicle.py)
    assert fleet.dispatcher.tracks["agv_001"].job is not None  # it was given the job...
    assert fleet.state_of(order) == OrderState.ASSIGNED  # ...which it has not taken
    fleet.link.send_order = send  # it hears again: the next resend gives it the job
    assert fleet.run(600, until=lambda: fleet.state_of(order) == OrderState.LOADED)
