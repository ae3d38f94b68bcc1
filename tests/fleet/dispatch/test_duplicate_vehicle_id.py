"""Two sources that report under one vehicle's id (two vehicles set up with one id, a vendor's AGV using another's
serial number) take it out of dispatch until an operator has seen to it: the link tells so
(``VehicleSnapshot.duplicate``, from a :class:`HeaderWatch` fed every state it receives; over a real broker:
tests/mqtt/test_duplicate_vehicle_id.py). Here the watch is fed two interleaved headerId counts by hand, on the
fleet's clock. Before, the fleet read the two as one vehicle whose position jumped between two places."""

from __future__ import annotations

from fleet.alarms import AlarmKind
from fleet.dispatch.views import VehicleAction
from fleet.orders import OrderState
from fleet.vehicles.link import HeaderWatch
from tests.fleet.dispatch.conftest import VN_CN, Fleet, docks, make_fleet


def _watched(fleet: Fleet) -> HeaderWatch:
    """The link tells what this watch makes of the headerIds fed to it; every vehicle is looked at at every tick,
    as over a real link."""
    watch = HeaderWatch(clock=fleet.customs.clock)
    snapshot = fleet.link.snapshot
    fleet.link.snapshot = lambda vehicle_id: snapshot(vehicle_id)._replace(duplicate=watch.duplicate(vehicle_id))
    fleet.link.changed_vehicles = lambda: None
    return watch


def _two_report(fleet: Fleet, watch: HeaderWatch, vehicle_id: str) -> None:
    """Two sources' states under ``vehicle_id``, in turn: one counting from 500, the other from 40."""
    now = fleet.customs.clock.now
    for k in range(4):
        watch.heard(vehicle_id, 500 + k, now + k)
        watch.heard(vehicle_id, 40 + k, now + k + 0.5)


def _released_to(fleet: Fleet, vehicle_id: str, since: int = 0) -> set[str]:
    return {node.node_id for _, to, order in fleet.link.sent_orders[since:] if to == vehicle_id
            for node in order.nodes if node.released}


def test_a_vehicle_reported_by_two_is_taken_out_of_dispatch_until_an_operator_puts_it_back(customs, corridor):
    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_2", "vn_parking_1"])
    watch = _watched(fleet)
    fleet.authorize("agv_001", "agv_002")
    fleet.run(5)
    _two_report(fleet, watch, "agv_001")
    fleet.run(1)
    track = fleet.dispatcher.tracks["agv_001"]
    assert not track.record.in_service and "two sources report as agv_001" in (track.unavailable or "")
    assert fleet.link.state("agv_001").e_stop != "NONE"  # both machines take what is sent to the id: stopped
    [alarm] = [a for a in fleet.dispatcher.alarms.list()[0] if a.kind == AlarmKind.DUPLICATE_VEHICLE_ID]
    assert alarm.subject == "agv_001" and "headerId went back 3 times" in alarm.message, alarm.message
    sent = len(fleet.link.sent_orders)
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN)
    assert fleet.run(600, until=lambda: fleet.state_of(order) == OrderState.LOADED)
    assert fleet.orders.get(order).vehicle_id == "agv_002"  # (agv_001 is the nearest)
    assert _released_to(fleet, "agv_001", since=sent) <= {"vn_parking_2"}  # nothing released to it

    assert fleet.dispatcher.alarms.get(alarm.id).cleared_at is not None  # no sign of the second for 30 s
    assert not track.record.in_service  # (until an operator puts it back)
    _two_report(fleet, watch, "agv_001")  # the second is back, as the operator puts the vehicle back in service
    fleet.dispatcher.set_in_service("agv_001", True, by="operator", reason="looked")
    fleet.run(1)
    assert not track.record.in_service  # out again at once, a new alarm
    [again] = fleet.dispatcher.alarms.list(open_only=True)[0][:1]
    assert again.kind == AlarmKind.DUPLICATE_VEHICLE_ID and again.cleared_at is None

    fleet.run(31)  # the second one gone: the alarm is marked cleared; the vehicle waits for the operator
    assert fleet.dispatcher.alarms.get(again.id).cleared_at is not None and not track.record.in_service
    fleet.dispatcher.act("agv_001", VehicleAction.RELEASE_EMERGENCY_STOP, "operator", "second vehicle taken away")
    fleet.dispatcher.set_in_service("agv_001", True, by="operator", reason="second vehicle taken away")
    assert fleet.run(30, until=lambda: track.unavailable is None)
    second = fleet.order(["VN-100000000002"], docks(corridor, "VN")[1], docks(corridor, "CN")[1])
    fleet.release("VN-100000000002", VN_CN)
    assert fleet.run(600, until=lambda: fleet.state_of(second) == OrderState.LOADED)
    assert fleet.orders.get(second).vehicle_id == "agv_001"  # at work again


def test_a_vehicle_that_restarts_keeps_its_order(customs, corridor):
    """Restarted, a vehicle counts its headerIds from 0 again, once: not two sources."""
    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_2", "vn_parking_1"])
    watch = _watched(fleet)
    fleet.authorize("agv_001", "agv_002")
    order = fleet.order(["VN-100000000003"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000003", VN_CN)
    assert fleet.run(10, until=lambda: fleet.orders.get(order).vehicle_id == "agv_001")
    now = fleet.customs.clock.now
    for k, header_id in enumerate((500, 501, 502, 0, 1, 2, 3, 4, 5)):
        watch.heard("agv_001", header_id, now + k)
    assert fleet.run(600, until=lambda: fleet.state_of(order) == OrderState.LOADED)
    assert fleet.orders.get(order).vehicle_id == "agv_001" and fleet.dispatcher.tracks["agv_001"].record.in_service
    assert not [a for a in fleet.dispatcher.alarms.list()[0] if a.kind == AlarmKind.DUPLICATE_VEHICLE_ID]
