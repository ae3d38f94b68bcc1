"""A vehicle that cannot go on is taken out once, not again on every tick while its condition lasts."""

from __future__ import annotations

import logging

from agv_agent.protocol import OperatingMode

from fleet.api.metrics import vehicle_state
from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def test_a_silent_vehicle_is_taken_out_once(customs, corridor, caplog):
    fleet = make_fleet(customs, corridor, 2)
    fleet.run(5)
    caplog.set_level(logging.WARNING, logger="fleet.dispatch.loop")
    for _ in range(60):  # the vehicles stop reporting (their link is not stepped), the fleet's clock goes on
        customs.clock.now += 0.5
        fleet.dispatcher.tick()
    taken_out = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert sorted(m.split()[1] for m in taken_out) == ["agv_001", "agv_002"], taken_out


def test_a_vehicle_a_person_drives_takes_no_order_and_gives_its_order_back(customs, corridor):
    """VDA 5050 ``operatingMode``: MANUAL (or SERVICE, TEACHIN) is a vehicle people drive, which takes no order.
    Found by trying it: one switched to MANUAL at the pickup dock was given the order there, refused it
    (``notInAutomaticMode``) and kept it ``assigned`` for good, beside a free vehicle; none was told why."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 2, starts=[vn[0], vn[3]])
    fleet.authorize("agv_001", "agv_002")
    manual = fleet.link._vehicles["agv_001"].logic
    manual.set_operating_mode(OperatingMode.MANUAL)
    order = fleet.order(["VN-700000000051"], vn[0], cn[0])
    fleet.release("VN-700000000051", VN_CN)
    assert fleet.run(30, until=lambda: fleet.orders.get(order).vehicle_id == "agv_002"), fleet.orders.get(order)
    assert "operating mode MANUAL" in (fleet.dispatcher.tracks["agv_001"].unavailable or "")
    view = fleet.dispatcher.vehicle("agv_001")
    assert view.operating_mode == "MANUAL" and vehicle_state(view) == "manual"  # the API's and console's word
    # its people done, back in automatic mode: it makes way at the dock and the order is carried
    manual.set_operating_mode(OperatingMode.AUTOMATIC)
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.state_of(order)
    assert fleet.dispatcher.tracks["agv_001"].unavailable is None
    # given an order, then switched to SERVICE before loading: it gives the order back at once
    second = fleet.order(["VN-700000000052"], vn[1], cn[1])
    assert fleet.run(120, until=lambda: fleet.orders.get(second).vehicle_id == "agv_001"), fleet.orders.get(second)
    manual.set_operating_mode(OperatingMode.SERVICE)
    assert fleet.run(10, until=lambda: fleet.orders.get(second).vehicle_id != "agv_001"), fleet.orders.get(second)
