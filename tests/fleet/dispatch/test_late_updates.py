"""Orders and updates that reach their vehicle late, more than ``RESEND_AFTER_S`` after they were sent (a slow
network, an MQTT broker lagging, vehicles under a time-scaled ROS clock), still finish.

Found in the in-process fleet with a link that hands each order to its vehicle 8 s after it was sent: the
dispatcher, seeing no sign of it after 3 s, built the order anew (a new order id, or an update from where the
vehicle's base had ended before). The late one overtook it: the vehicle took the first, refused each later one
("busy with order ...", "update must start at the last base node ..."), drove on an order the fleet no longer
followed, and was taken out of dispatch as one that "does not take its orders"; the order never reached
``delivered``. The same came of a replan while a new order was on its way (a second new order in its place).
"""

from __future__ import annotations

from fleet.dispatch.loop import RESEND_AFTER_S
from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, Fleet, docks, make_fleet

LATE_S = 8.0
assert LATE_S > 2 * RESEND_AFTER_S


def _late_link(fleet: Fleet, late_s: float = LATE_S) -> list:
    """The link hands each order to its vehicle ``late_s`` after it was sent (in order); the vehicle's state shows it
    from its next step on. Returns the orders on their way."""
    fleet.link.report_orders_at_once = False
    real, on_the_way = fleet.link.send_order, []

    def send(vehicle_id, order) -> None:
        on_the_way.append((fleet.customs.clock.now + late_s, vehicle_id, order))
        fleet.link.sent_orders.append((fleet.customs.clock.now, vehicle_id, order))

    def deliver(fleet: Fleet) -> None:
        while on_the_way and on_the_way[0][0] <= fleet.customs.clock.now:
            _, vehicle_id, order = on_the_way.pop(0)
            real(vehicle_id, order)
            fleet.link.sent_orders.pop()  # (the real link notes it again)

    fleet.link.send_order = send
    fleet.checks.append(deliver)
    return on_the_way


def _refusals(fleet: Fleet) -> list:
    """Every order error any vehicle reported at any tick (the link keeps the last of each type only)."""
    seen: list = []

    def note(fleet: Fleet) -> None:
        for vehicle_id in fleet.dispatcher.tracks:
            for error in fleet.link.state(vehicle_id).errors:
                if (vehicle_id, error.description) not in seen:
                    seen.append((vehicle_id, error.description))

    fleet.checks.append(note)
    return seen


def test_orders_whose_updates_come_late_are_delivered(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    _late_link(fleet)
    refused = _refusals(fleet)
    orders = [fleet.order([f"VN-10000000000{i}"], docks(corridor, "VN")[i], docks(corridor, "CN")[i]) for i in (1, 2)]
    for i in (1, 2):
        fleet.release(f"VN-10000000000{i}", VN_CN)
    assert fleet.run(3600, dt=1.0, until=lambda: all(fleet.state_of(o) == OrderState.DELIVERED for o in orders)), \
        ({o: fleet.state_of(o) for o in orders}, refused)
    assert refused == []
    assert all(track.unavailable is None for track in fleet.dispatcher.tracks.values())
    sent: dict = {}
    for _, vehicle_id, order in fleet.link.sent_orders:  # each update sent again is the very same update
        assert sent.setdefault((vehicle_id, order.order_id, order.order_update_id), order) == order
    assert len(sent) < len(fleet.link.sent_orders)  # (some were late enough to be sent again)


def test_a_plan_made_while_a_new_order_is_on_its_way_is_an_update_of_it(customs, corridor):
    """The vehicle's first order is on its way when the vehicle is planned again: what the new plan sends
    extends that order (VDA 5050: same order id, higher update id), as it would an update on its way. A second
    new order in its place was refused as "busy" once the first arrived; the vehicle drove the first to the
    pickup dock and loaded there unfollowed, and was given the order again there, to load it a second time."""
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    on_the_way = _late_link(fleet)
    refused = _refusals(fleet)
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN)
    assert fleet.run(10, dt=1.0, until=lambda: bool(on_the_way))
    assert fleet.link.state("agv_001").order_id == ""  # nothing reached it yet
    fleet.dispatcher.tracks["agv_001"].needs_plan = True
    assert fleet.run(3600, dt=1.0, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), \
        (fleet.orders.get(order), refused)
    assert refused == []
    assert len({o.order_id for _, _, o in fleet.link.sent_orders}) == 1
    assert [t.to_state for t in fleet.orders.get(order).timeline].count(OrderState.LOADED) == 1
    assert [t.to_state for t in fleet.orders.get(order).timeline].count(OrderState.ASSIGNED) == 1
