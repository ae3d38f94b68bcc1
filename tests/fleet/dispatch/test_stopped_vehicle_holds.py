"""A vehicle e-stopped on its way to load holds, for as long as it stands, the dock it was released to: the order,
taken from it after ``reassign_after_s``, goes to another vehicle that then stalls before that dock.

Not fixed (docs/operations.md, "Health"): ``Dispatcher._take_out`` has ``FleetPlanner.fail`` hold the end of the
stopped vehicle's released base for good, not where it stands. Giving that way back is safe only once the
vehicle can no longer drive it when its stop is released: a ``cancelOrder`` it has acknowledged, which strands a
vehicle stopped between nodes where no new order can start (``fleet.dispatch.off_way.between_nodes``).
"""

from __future__ import annotations

import pytest

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


@pytest.mark.xfail(strict=True, reason="the stopped vehicle's released dock is held for good (not fixed)")
def test_an_order_taken_from_an_e_stopped_vehicle_is_delivered_by_another(customs, corridor):
    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_1", "vn_parking_10"])
    fleet.authorize("agv_001", "agv_002")
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN)
    assert fleet.run(120, until=lambda: fleet.state_of(order) == OrderState.TO_PICKUP)
    fleet.run(10)
    stopped = fleet.orders.get(order).vehicle_id
    fleet.dispatcher.act(stopped, "emergency_stop", "operator", "a person on the lane")
    assert fleet.run(1800, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), \
        (fleet.orders.get(order).vehicle_id, {v: t.stalled_because for v, t in fleet.dispatcher.tracks.items()})
