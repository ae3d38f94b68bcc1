"""A vehicle that takes none of the orders it is sent (a VDA 5050 vendor vehicle that ignores every ``order``
message, a ROS agent whose order subscription broke) is taken out of dispatch until it takes them again.

Found live over MQTT (mosquitto, ``xborder serve``): such a vehicle kept the transport order it was given for
good, ``assigned``, sent again every 3 s, with no alarm, beside a free vehicle (over 2.5 minutes seen)."""

from __future__ import annotations

from fleet.alarms import AlarmKind
from fleet.orders import OrderState
from fleet.orders.model import LOADED_STATES
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


def _faults(fleet, vehicle_id: str) -> list:
    return [a for a in fleet.dispatcher.alarms.list()[0]
            if a.kind == AlarmKind.VEHICLE_FAULT and a.subject == vehicle_id]


def test_an_order_goes_from_a_vehicle_that_does_not_take_it_to_a_free_one(customs, corridor):
    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_2", "vn_parking_1"])
    fleet.authorize("agv_001", "agv_002")
    fleet.run(5)
    deaf = _deafen(fleet, "agv_001")
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN)
    assert fleet.run(10, until=lambda: fleet.orders.get(order).vehicle_id == "agv_001")  # the nearest
    after = fleet.dispatcher.settings.reassign_after_s
    assert fleet.run(after + 30, until=lambda: fleet.orders.get(order).vehicle_id == "agv_002"), \
        fleet.orders.get(order)
    track = fleet.dispatcher.tracks["agv_001"]
    assert "does not take its orders" in (track.unavailable or "")
    [alarm] = _faults(fleet, "agv_001")
    assert "does not take its orders" in alarm.message and "it reports" in alarm.message, alarm.message
    assert fleet.run(600, until=lambda: fleet.state_of(order) == OrderState.LOADED)
    fleet.run(30)
    assert len(_faults(fleet, "agv_001")) == 1  # raised once, not again while it lasts
    deaf.clear()  # it hears again: available again on its own, and given work
    assert fleet.run(30, until=lambda: track.unavailable is None)
    second = fleet.order(["VN-100000000002"], docks(corridor, "VN")[1], docks(corridor, "CN")[1])
    fleet.release("VN-100000000002", VN_CN)
    assert fleet.run(600, until=lambda: fleet.state_of(second) == OrderState.LOADED)
    assert fleet.orders.get(second).vehicle_id == "agv_001"


def test_a_vehicle_deaf_from_the_start_is_sent_orders_it_can_take_once_it_hears(customs, corridor):
    """Deaf before its first order (its order subscription never worked): what it is sent again starts where it
    stands, not where the orders it never took would have it, so that it takes the first once it hears."""
    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_2", "vn_parking_1"])
    fleet.authorize("agv_001", "agv_002")
    deaf = _deafen(fleet, "agv_001")
    order = fleet.order(["VN-100000000003"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000003", VN_CN)
    assert fleet.run(120, until=lambda: fleet.orders.get(order).vehicle_id == "agv_002"), fleet.orders.get(order)
    assert fleet.run(600, until=lambda: fleet.state_of(order) == OrderState.LOADED)
    track = fleet.dispatcher.tracks["agv_001"]
    assert "does not take its orders" in (track.unavailable or "")
    deaf.clear()
    assert fleet.run(30, until=lambda: track.unavailable is None)
    assert fleet.link.state("agv_001").order_id == track.vda_order_id  # it took what it was sent
    assert not [e for e in fleet.link.state("agv_001").errors if e.error_type == "orderError"]


def test_a_loaded_vehicle_that_does_not_take_its_orders_keeps_its_load_and_is_not_released_across(customs,
                                                                                                  corridor):
    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_2", "vn_parking_1"])
    fleet.authorize("agv_001", "agv_002")
    order = fleet.order(["VN-100000000004"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    assert fleet.run(600, until=lambda: fleet.state_of(order) == OrderState.LOADED)
    assert fleet.orders.get(order).vehicle_id == "agv_001"
    deaf = _deafen(fleet, "agv_001")
    fleet.release("VN-100000000004", VN_CN)  # cleared while it is deaf: the update past its gate is not taken
    track = fleet.dispatcher.tracks["agv_001"]
    assert fleet.run(fleet.dispatcher.settings.reassign_after_s + 600,
                     until=lambda: track.unavailable is not None and "does not take" in track.unavailable)
    sent = len(fleet.link.sent_orders)
    fleet.run(120)
    assert fleet.state_of(order) in LOADED_STATES and fleet.orders.get(order).vehicle_id == "agv_001"
    across = [(at, [n.node_id for n in o.nodes if n.released]) for at, v, o in fleet.link.sent_orders[sent:]
              if v == "agv_001" and any(corridor.lane_between(a.node_id, b.node_id).crossing
                                        for a, b in zip(o.nodes, o.nodes[1:]) if b.released)]
    assert across == []  # nothing released to it past the last node before the crossing
    deaf.clear()  # it hears again: on with its load
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.orders.get(order)
    assert fleet.orders.get(order).vehicle_id == "agv_001"


def test_a_vehicle_slow_to_take_its_orders_is_not_taken_for_deaf(customs, corridor):
    """Each order reaches the vehicle 2 s after it was sent and shows in its state a second later, its states
    come every second (a slow link or vendor): no alarm, it carries on."""
    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_2", "vn_parking_1"])
    fleet.authorize("agv_001", "agv_002")
    fleet.link.report_orders_at_once = False
    real, late = fleet.link.send_order, []
    fleet.link.send_order = lambda vehicle, order: late.append((customs.clock.now + 2, vehicle, order))

    def deliver(fleet) -> None:
        while late and late[0][0] <= customs.clock.now:
            _, vehicle, order = late.pop(0)
            real(vehicle, order)

    fleet.checks.append(deliver)
    orders = [fleet.order([f"VN-10000000001{i}"], docks(corridor, "VN")[i], docks(corridor, "CN")[i]) for i in (0, 1)]
    for i in (0, 1):
        fleet.release(f"VN-10000000001{i}", VN_CN)
    assert fleet.run(3600, dt=1.0, until=lambda: all(fleet.state_of(o) == OrderState.DELIVERED for o in orders))
    assert _faults(fleet, "agv_001") == _faults(fleet, "agv_002") == []


def test_a_restart_of_the_fleet_manager_takes_no_vehicle_for_deaf(customs, corridor):
    from tests.fleet.dispatch.test_loop import make_fleet_again

    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_2", "vn_parking_1"])
    fleet.authorize("agv_001", "agv_002")
    orders = [fleet.order([f"VN-10000000002{i}"], docks(corridor, "VN")[i], docks(corridor, "CN")[i]) for i in (0, 1)]
    for i in (0, 1):
        fleet.release(f"VN-10000000002{i}", VN_CN)
    fleet.run(90)
    restarted = make_fleet_again(fleet)
    restarted.run(120)  # (the old one is gone: its last updates are the vehicles' now)
    assert restarted.run(3600, until=lambda: all(restarted.state_of(o) == OrderState.DELIVERED for o in orders))
    assert _faults(restarted, "agv_001") == _faults(restarted, "agv_002") == []


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
