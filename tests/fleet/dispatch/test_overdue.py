"""Orders past their latest delivery are still carried (late, and shown late), never left in the yard for good,
and each raises one alarm."""

from __future__ import annotations

from fleet.alarms import AlarmKind
from fleet.orders import OrderCreate, OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def test_an_order_two_hours_late_is_still_carried_and_delivered_in_through_operation(customs, corridor):
    """Issue #13, finding 12: in through operation an order more than an hour (the assignment's unassigned
    penalty) past its latest delivery cost more to carry than to leave, so it was never carried again (a day of
    baseline_2026: 14 orders never given out). It is late whatever is done now: carried, it costs only the
    lateness the trip adds."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 1, starts=[vn[1]])
    assert fleet.dispatcher.relay is None
    fleet.authorize("agv_001")
    consignment, now = "VN-600000000001", customs.clock()
    order, _ = fleet.orders.create(OrderCreate(consignments=[consignment], pickup=vn[1], drop=cn[0],
                                               earliest_start=now, latest_delivery=now + 60), "test")
    customs.clock.now += 2 * 3600  # kept in the yard (by customs, say) until two hours past its latest delivery
    fleet.release(consignment, VN_CN)
    assert fleet.run(3600, until=lambda: fleet.state_of(order.id) == OrderState.DELIVERED), \
        fleet.state_of(order.id)


def test_an_overdue_order_with_no_earliest_start_does_not_fail_the_assignment_round(customs, corridor):
    """Issue #13, finding 12: an order with no earliest start counted as ready now, so once past its latest
    delivery it was due before it was ready: an invalid request, raised while the assignment round was built.
    Every tick failed there while it waited: no order was given out, and nothing after the assignment in the tick
    ran either (replanning, releases), so the whole fleet stood."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    late, _ = fleet.orders.create(OrderCreate(consignments=["VN-600000000002"], pickup=vn[0], drop=cn[0],
                                              latest_delivery=customs.clock() + 60), "test")
    customs.clock.now += 2 * 3600
    fresh = fleet.order(["VN-600000000003"], vn[1], cn[1])
    assert fleet.run(30, until=lambda: OrderState.CREATED not in {fleet.state_of(late.id), fleet.state_of(fresh)})


def _overdue_alarms(fleet):
    return [a for a in fleet.dispatcher.alarms.list(limit=500)[0] if a.kind == AlarmKind.ORDER_OVERDUE]


def test_an_order_past_its_latest_delivery_raises_one_alarm_once(customs, corridor):
    """The control room hears of it without paging through the orders, once: not again after an operator
    acknowledged it, nor after the service restarted."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    held, free = "VN-800000000001", "VN-800000000002"
    assert fleet.dispatcher.gate.ingest(customs.cn.event("hold", held, direction=VN_CN), "test").acknowledged
    fleet.release(free, VN_CN)
    now = customs.clock()
    late, _ = fleet.orders.create(OrderCreate(consignments=[held], pickup=vn[0], drop=cn[0],
                                              latest_delivery=now + 120), "test")  # kept in the yard by customs
    in_time, _ = fleet.orders.create(OrderCreate(consignments=[free], pickup=vn[1], drop=cn[1],
                                                 latest_delivery=now + 4 * 3600), "test")
    fleet.run(110)
    assert _overdue_alarms(fleet) == []
    fleet.run(60)  # past its latest delivery by more than the loop's look-out period
    [alarm] = _overdue_alarms(fleet)
    assert alarm.subject == late.id and alarm.detail["state"] == OrderState.CREATED, alarm
    assert "past its latest delivery" in alarm.message and late.id in alarm.message, alarm.message
    assert fleet.state_of(in_time.id) != OrderState.CREATED  # on its way, and not overdue
    fleet.dispatcher.alarms.acknowledge(alarm.id, "operator")
    fleet.run(120)
    assert len(_overdue_alarms(fleet)) == 1  # acknowledged, not raised again though still late
    restarted = make_fleet(customs, corridor, 2)  # a new loop on the same store
    restarted.run(60)
    assert len(_overdue_alarms(restarted)) == 1
