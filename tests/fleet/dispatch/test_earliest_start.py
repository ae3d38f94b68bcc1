"""An order's earliest start (``POST /orders``' ``earliest_start``: the container is ready then) holds it back: no
vehicle is sent for it before then. Found by hand: an order booked to be ready an hour later was loaded ten minutes
after it was made, and delivered 25 minutes before its container was to be ready."""

from __future__ import annotations

from fleet.dispatch.waiting import WaitKind
from fleet.orders import OrderCreate, OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def test_an_order_is_loaded_only_once_its_earliest_start_has_come(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    ready = customs.clock.now + 3600
    order, _ = fleet.orders.create(OrderCreate(consignments=["VN-100000000001"], pickup=docks(corridor, "VN")[0],
                                               drop=docks(corridor, "CN")[0], earliest_start=ready), "test")
    fleet.release("VN-100000000001", VN_CN)
    fleet.run(600)
    assert fleet.state_of(order.id) == OrderState.CREATED
    [waiting] = fleet.dispatcher.waiting_orders(50)
    assert waiting.kind == WaitKind.NOT_READY and "earliest start" in waiting.because, waiting
    assert fleet.run(3600, until=lambda: fleet.state_of(order.id) == OrderState.LOADED)
    timeline = fleet.orders.get(order.id).timeline
    assigned = next(t.at for t in timeline if t.to_state == OrderState.ASSIGNED)
    loaded = next(t.at for t in timeline if t.to_state == OrderState.LOADED)
    assert ready <= assigned < ready + 30 and loaded >= ready, (ready, assigned, loaded)


def test_orders_not_yet_ready_do_not_crowd_out_one_that_is(customs, corridor):
    """An assignment round reads a few times ``assign_max_orders`` of the most urgent waiting orders: were the
    ones not yet ready among them, a ready one behind them (lower priority) would wait for all of them."""
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    tomorrow = customs.clock.now + 86400
    read = fleet.dispatcher._waiting_read()
    for number in range(read + 1):
        fleet.orders.create(OrderCreate(consignments=[f"VN-2{number:011d}"], pickup=vn[number % len(vn)],
                                        drop=cn[number % len(cn)], priority=10, earliest_start=tomorrow), "test")
    ready_now = fleet.order(["VN-100000000009"], vn[0], cn[0])
    fleet.release("VN-100000000009", VN_CN)
    assert fleet.run(120, until=lambda: fleet.state_of(ready_now) != OrderState.CREATED)
    assert len(fleet.orders.waiting(500)) == read + 1  # the scheduled ones all wait
