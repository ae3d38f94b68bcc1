"""A vehicle e-stopped on its way to load holds where it stands and the way released to it, for as long as it may
still drive it; its order goes to another vehicle once that way is taken back from it.

Before, ``Dispatcher._take_out`` had ``FleetPlanner.fail`` hold only the end of the stopped vehicle's released way
(the dock it was bound for): the order, taken from it after ``reassign_after_s``, went to another vehicle that
stood stalled for good before that dock ("every goal (vn_dock_1) is taken for good by another vehicle"), and the
node the stopped vehicle stood at, and the lane it stood on, were free for others to be planned through. Now, at
a node, it is sent a VDA 5050 ``cancelOrder`` and, once it reports it done, holds just that node, with a new order
that ends there; between nodes (a cancel would strand it where no new order can start, ``off_way.between_nodes``)
its order waits for it, with an alarm that says why.
"""

from __future__ import annotations

from fleet.alarms import AlarmKind
from fleet.dispatch.off_way import between_nodes
from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, Fleet, docks, make_fleet


def _on_its_way_to_load(customs, corridor, after_s: float, stop: bool = True) -> tuple[Fleet, str, str]:
    """agv_002 takes an order to load at vn_dock_1, drives ``after_s`` towards it, and is e-stopped there
    (``stop``)."""
    fleet = make_fleet(customs, corridor, 2, starts=["vn_parking_1", "vn_parking_10"])
    fleet.authorize("agv_001", "agv_002")
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN)
    assert fleet.run(120, until=lambda: fleet.state_of(order) == OrderState.TO_PICKUP)
    fleet.run(after_s)
    stopped = fleet.orders.get(order).vehicle_id
    assert stopped == "agv_002"
    if stop:
        fleet.dispatcher.act(stopped, "emergency_stop", "operator", "a person on the lane")
        fleet.run(2)
    return fleet, order, stopped


def _open_alarms(fleet: Fleet, kind: AlarmKind) -> list[str]:
    return [a.message for a in fleet.dispatcher.alarms.list(limit=100)[0] if a.kind == kind]


def test_an_order_taken_from_a_vehicle_e_stopped_at_a_node_is_delivered_by_another(customs, corridor):
    fleet, order, stopped = _on_its_way_to_load(customs, corridor, 0)
    track = fleet.dispatcher.tracks[stopped]
    assert between_nodes(corridor, track.state) is None and any(n.released for n in track.state.node_states)
    here, cancelled = track.state.last_node_id, track.state.order_id
    fleet.run(fleet.dispatcher.settings.reassign_after_s + 5)
    # its order cancelled (not failed: the pick the cancel ended is no handling failure), its way taken back, and
    # a new order where it stands
    assert fleet.state_of(order) in (OrderState.ASSIGNED, OrderState.TO_PICKUP)
    assert fleet.orders.get(order).vehicle_id == "agv_001"
    assert track.state.node_states == () and track.state.order_id == track.vda_order_id != cancelled
    assert fleet.dispatcher.planner.table.holders_for_good(here) == {stopped}
    assert stopped not in fleet.dispatcher.planner.table.holders_for_good(docks(corridor, "VN")[0])
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), \
        {v: t.stalled_because for v, t in fleet.dispatcher.tracks.items()}
    assert _open_alarms(fleet, AlarmKind.HANDLING_FAILED) == []
    assert fleet.dispatcher.tracks[stopped].state.last_node_id == here


def test_a_vehicle_e_stopped_between_nodes_holds_its_place_and_keeps_its_order(customs, corridor):
    """Found with the test above: e-stopped on the lane out of its parking spot, the vehicle held only the dock at
    the end of its released way; the lane it stood on and the nodes at both its ends were free to plan others
    through (another vehicle's way to a dock runs along that aisle)."""
    fleet, order, stopped = _on_its_way_to_load(customs, corridor, 10)
    track = fleet.dispatcher.tracks[stopped]
    assert between_nodes(corridor, track.state) is not None
    place = (track.state.last_node_id, next(n.node_id for n in track.state.node_states if n.released))
    table = fleet.dispatcher.planner.table

    def nobody_through_its_place(f: Fleet) -> None:
        assert all(stopped in table.holders_for_good(node) for node in place), place
        for other in f.dispatcher.tracks.values():
            if other.id != stopped and other.plan is not None:
                assert not set(place) & set(other.plan.nodes), (other.id, other.plan.nodes)

    nobody_through_its_place(fleet)
    fleet.checks.append(nobody_through_its_place)
    second = fleet.order(["VN-100000000002"], docks(corridor, "VN")[1], docks(corridor, "CN")[1])
    fleet.release("VN-100000000002", VN_CN)
    fleet.run(fleet.dispatcher.settings.reassign_after_s + 30)
    # its order waits for it, and the dispatchers are told why
    assert fleet.orders.get(order).vehicle_id == stopped and fleet.state_of(order) == OrderState.TO_PICKUP
    waits = _open_alarms(fleet, AlarmKind.ORDER_WAITS_FOR_STOPPED)
    assert len(waits) == 1 and stopped in waits[0] and order in waits[0] and "between nodes" in waits[0], waits
    assert "vn_dock_1" not in (fleet.dispatcher.tracks["agv_001"].stalled_because or "")
    fleet.checks.remove(nobody_through_its_place)
    fleet.dispatcher.act(stopped, "release_emergency_stop", "operator", "lane clear")
    assert fleet.run(3600, until=lambda: {fleet.state_of(o) for o in (order, second)} == {OrderState.DELIVERED})
    assert fleet.orders.get(order).vehicle_id == stopped
    # the alarm's cause ended: marked cleared, open until acknowledged
    assert [a.cleared_at is not None for a in fleet.dispatcher.alarms.list(limit=100)[0]
            if a.kind == AlarmKind.ORDER_WAITS_FOR_STOPPED] == [True]


def test_an_order_waits_with_an_alarm_for_a_vehicle_fallen_silent_on_its_way_to_load(customs, corridor):
    """Found reading the way back: a vehicle fallen silent while driving to load (its last state says it drives)
    was waited for, tick after tick, to stand still before its way could be taken back: its order waited for good
    with no alarm saying so (only the vehicle's own ``vehicle_silent``)."""
    fleet, order, silent = _on_its_way_to_load(customs, corridor, 10, stop=False)
    settings = fleet.dispatcher.settings
    for _ in range(int((settings.silent_after_s + settings.reassign_after_s + 10) / 0.5)):
        customs.clock.now += 0.5  # its link is not stepped: it reports nothing, the fleet's clock goes on
        fleet.dispatcher.tick()
    assert fleet.dispatcher.tracks[silent].state.driving
    assert fleet.orders.get(order).vehicle_id == silent and fleet.state_of(order) == OrderState.TO_PICKUP
    waits = _open_alarms(fleet, AlarmKind.ORDER_WAITS_FOR_STOPPED)
    assert len(waits) == 1 and silent in waits[0] and order in waits[0] and "silent" in waits[0], waits
