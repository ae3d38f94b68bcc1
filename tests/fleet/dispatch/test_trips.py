"""Assignment rounds whose trips carry more than one order: every order of a trip is assigned."""

from __future__ import annotations

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import docks, make_fleet


def test_two_vehicles_at_two_docks_take_both_orders(customs, corridor):
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 2, starts=[vn[0], vn[1]])
    fleet.authorize("agv_001", "agv_002")
    orders = [fleet.order(["VN-500000000001"], vn[0], cn[0]), fleet.order(["VN-500000000002"], vn[1], cn[1])]
    fleet.run(3)
    assigned = {fleet.orders.get(o).vehicle_id for o in orders if fleet.state_of(o) != OrderState.CREATED}
    assert len(assigned) == 2
