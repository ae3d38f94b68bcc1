"""The dispatch loop end to end in one process: orders carried across both ways, the customs gate honoured."""

from __future__ import annotations

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import CN_VN, VN_CN, docks, make_fleet


def test_two_orders_cross_both_ways(customs, corridor):
    fleet = make_fleet(customs, corridor, 4)
    fleet.authorize("agv_001", "agv_002", "agv_003", "agv_004")
    out = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    back = fleet.order(["CN-200000000001"], docks(corridor, "CN")[1], docks(corridor, "VN")[1])
    fleet.release("VN-100000000001", VN_CN)
    fleet.release("CN-200000000001", CN_VN)
    assert fleet.run(3600, until=lambda: fleet.state_of(out) == fleet.state_of(back) == OrderState.DELIVERED), \
        (fleet.orders.get(out), fleet.orders.get(back))
