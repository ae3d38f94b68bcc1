"""A vehicle that cannot go on is taken out once, not again on every tick while its condition lasts."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import shapely
from agv_agent.protocol import OperatingMode

from fleet.alarms import AlarmKind
from fleet.api.metrics import vehicle_state
from fleet.dispatch.off_way import between_nodes
from fleet.dispatch.views import VehicleAction
from fleet.events import Topic
from fleet.orders import OrderError, OrderState
from planner.corridor import NodeKind
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


def silent_alarms(fleet) -> list:
    return [a for a in fleet.dispatcher.alarms.list(open_only=True)[0] if a.kind == AlarmKind.VEHICLE_SILENT]


def unreported(fleet, customs, seconds: float) -> None:
    """The loop ticks for ``seconds`` while the vehicles' link is not stepped: they report nothing."""
    for _ in range(int(seconds / 0.5)):
        customs.clock.now += 0.5
        fleet.dispatcher.tick()


def test_an_acknowledged_silent_vehicle_is_not_raised_again_until_it_has_reported(customs, corridor):
    """Found by hand: a configured vehicle that never reported raised vehicle_silent again on the next tick after
    the operator acknowledged it, for good: acknowledging a lasting condition did nothing."""
    fleet = make_fleet(customs, corridor, 1)
    fleet.run(5)

    unreported(fleet, customs, fleet.dispatcher.settings.silent_after_s + 5)
    [alarm] = silent_alarms(fleet)
    fleet.dispatcher.alarms.acknowledge(alarm.id, "operator")
    unreported(fleet, customs, 60)
    assert silent_alarms(fleet) == []  # acknowledged, still silent: one line, not a new one each tick
    fleet.run(5)  # it reports again: the condition has ended
    unreported(fleet, customs, fleet.dispatcher.settings.silent_after_s + 5)
    assert len(silent_alarms(fleet)) == 1  # silent again: a new alarm


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


def test_a_vehicle_moved_off_its_way_by_hand_takes_no_work_until_it_is_back(customs, corridor):
    """Found by trying it: a parked vehicle switched to MANUAL, driven by people to another parking row and
    switched back to AUTOMATIC took the next order as if it stood where it had parked: the order's update started
    at the node it had last reached, which the vehicle took by its id, and it drove from where it really stood in
    a straight line to the next node, off every lane. Safety first: the fleet does not dispatch a vehicle that
    stands idle away from the node it last reached (unsure where it is on the graph), and says so; driven back
    there, it takes work again."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    spots = sorted(n.id for n in corridor.nodes_of(NodeKind.PARKING, jurisdiction="VN"))
    fleet = make_fleet(customs, corridor, 1, starts=[spots[0]])
    fleet.authorize("agv_001")
    fleet.run(10)
    logic = fleet.link._vehicles["agv_001"].logic
    logic.set_operating_mode(OperatingMode.MANUAL)
    fleet.run(5)
    home, elsewhere = corridor.nodes[spots[0]], corridor.nodes[spots[3]]
    fleet.link.move_by_hand("agv_001", elsewhere.x + 3.0, elsewhere.y)  # between places (on one: the next test)
    logic.set_operating_mode(OperatingMode.AUTOMATIC)
    order = fleet.order(["VN-700000000061"], vn[0], cn[0])
    fleet.release("VN-700000000061", VN_CN)
    fleet.run(60)
    track = fleet.dispatcher.tracks["agv_001"]
    assert fleet.state_of(order) == OrderState.CREATED, fleet.orders.get(order)
    assert f"from {spots[0]}" in (track.unavailable or ""), track.unavailable
    pose = fleet.link.state("agv_001").pose
    assert (pose.x, pose.y) == pytest.approx((elsewhere.x + 3.0, elsewhere.y), abs=0.01)  # it did not drive off
    [alarm] = [a for a in fleet.dispatcher.alarms.list()[0] if a.kind == AlarmKind.VEHICLE_OFF_ITS_WAY]
    assert spots[0] in alarm.message and alarm.subject == "agv_001", alarm
    fleet.link.move_by_hand("agv_001", home.x, home.y)  # people drive it back to its node
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.state_of(order)


def test_a_vehicle_set_down_by_hand_on_a_free_parking_spot_is_taken_from_there(customs, corridor):
    """Before, a vehicle moved by hand stood out of dispatch until people drove it back to the node it had last
    reached, even when they had set it down on a free parking spot. Set down on a free place of its side (within
    the 0.5 m our orders allow at a node), it is taken from there: its next order, a new one, starts at that
    place, and it drives the lanes from it. A place another vehicle stands on is not free: there it is still off
    its way."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    spots = sorted(n.id for n in corridor.nodes_of(NodeKind.PARKING, jurisdiction="VN"))
    fleet = make_fleet(customs, corridor, 2, starts=[spots[0], spots[1]])
    fleet.authorize("agv_001", "agv_002")
    fleet.run(10)
    fleet.link._vehicles["agv_002"].logic.set_operating_mode(OperatingMode.MANUAL)  # stays on its spot, no work
    carried = fleet.link._vehicles["agv_001"].logic
    carried.set_operating_mode(OperatingMode.MANUAL)
    fleet.run(5)
    taken, free = corridor.nodes[spots[1]], corridor.nodes[spots[3]]
    fleet.link.move_by_hand("agv_001", taken.x + 0.3, taken.y)
    carried.set_operating_mode(OperatingMode.AUTOMATIC)
    fleet.run(5)
    track = fleet.dispatcher.tracks["agv_001"]
    assert f"from {spots[0]}" in (track.unavailable or ""), track.unavailable
    fleet.link.move_by_hand("agv_001", free.x + 0.3, free.y - 0.2)  # people set it down again, on a free spot
    fleet.run(5)
    state = fleet.link.state("agv_001")  # it took a new order starting there: its last node says so now
    assert track.unavailable is None and state.last_node_id == spots[3], (track.unavailable, state.last_node_id)

    lanes = shapely.unary_union([lane.geometry for lane in corridor.lanes.values()])
    farthest = [0.0]

    def on_the_lanes() -> bool:
        pose = fleet.link.state("agv_001").pose
        farthest[0] = max(farthest[0], lanes.distance(shapely.Point(pose.x, pose.y)))
        return fleet.state_of(order) == OrderState.DELIVERED

    order = fleet.order(["VN-700000000062"], vn[0], cn[0])
    fleet.release("VN-700000000062", VN_CN)
    assert fleet.run(3600, until=on_the_lanes), fleet.state_of(order)
    assert fleet.orders.get(order).vehicle_id == "agv_001" and track.placed_at is None
    assert farthest[0] < 1.0, f"{farthest[0]:.1f} m off the lanes"  # it drove from the spot, not across the yard


def test_a_vehicle_is_not_cancelled_between_nodes(customs, corridor):
    """Found by trying it: a dispatcher's cancel of a vehicle on its way (VDA 5050 ``cancelOrder``) braked it
    between nodes, where no new order can start (a new order starts where the vehicle stands), and it stood there
    for good with its load. A cancel is refused while the vehicle is not at a node, saying what to do instead; the
    vehicle drives on."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 1, starts=[vn[0]])
    fleet.authorize("agv_001")
    order = fleet.order(["VN-700000000064"], vn[0], cn[0])
    fleet.release("VN-700000000064", VN_CN)
    assert fleet.run(1200, until=lambda: fleet.link.state("agv_001").driving
                     and fleet.state_of(order) == OrderState.LOADED)
    with pytest.raises(OrderError, match="agv_001 is driving: a cancel would stop it where no new order can start") \
            as refused:
        fleet.dispatcher.act("agv_001", VehicleAction.CANCEL, "dispatcher", "wrong way?")
    assert refused.value.status == 409
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.state_of(order)
    fleet.dispatcher.act("agv_001", VehicleAction.CANCEL, "dispatcher", "at its node now")  # stands at one: sent


def test_a_position_on_another_map_is_not_judged_against_the_corridor(customs, corridor):
    """A vehicle reporting its pose on a map not ours (a vendor's own, say) is not said to stand between nodes by
    the corridor's coordinates: where it is on ours is not known, as with a position not yet initialized."""
    fleet = make_fleet(customs, corridor, 1)
    fleet.run(5)
    at_its_node = fleet.link.state("agv_001")
    node = corridor.nodes[at_its_node.last_node_id]
    moved = dataclasses.replace(at_its_node, pose=dataclasses.replace(at_its_node.pose, x=node.x + 20))
    assert between_nodes(corridor, at_its_node) is None
    assert between_nodes(corridor, moved) == f"agv_001 stands 20.0 m from {node.id}, between nodes"
    assert between_nodes(corridor, dataclasses.replace(moved, map_id="vendor_hall_3")) is None


def test_a_vehicle_out_of_service_at_its_gate_is_not_shown_allowed_to_cross(customs, corridor):
    """Found by hand: a loaded vehicle taken out of service while it waited at its gate, its load released by
    both customs just after, was released past its gate by the next tick (whose first step releases the vehicles
    cleared at their gates, before it looks at any vehicle again) and drove on to the last node before the
    bridge, to stand there for good. And one that did stay at its gate was shown "crossing allowed"."""
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN, customs.vn)  # China has not: it waits at its gate
    assert fleet.run(1800, until=lambda: fleet.state_of(order) == OrderState.AWAITING_CLEARANCE)
    vehicle = fleet.orders.get(order).vehicle_id
    fleet.dispatcher.set_in_service(vehicle, False, "operator", "a broken lidar")
    fleet.release("VN-100000000001", VN_CN, customs.cn)
    fleet.run(120)
    assert fleet.state_of(order) == OrderState.AWAITING_CLEARANCE  # it stays where it stands
    [waiting] = [w for gate in fleet.dispatcher.gates() for w in gate.queue]
    assert waiting.vehicle_id == vehicle and not waiting.allowed, waiting
    assert any("cannot go on" in reason and "out of service" in reason for reason in waiting.reasons), waiting


def test_a_silent_vehicle_s_alarm_is_marked_cleared_when_it_reports_and_stands_again_if_it_falls_silent(
        customs, corridor):
    """Found by the last session: "agv_001: never reported since the fleet manager started" stayed as it was after
    the vehicle reported (and "no state for 10 s" after a silence): the control room could not tell it from a
    vehicle still silent. No alarm said its cause had ended. Now it is marked cleared, with the time, published,
    and stays open until acknowledged (the operator still sees that it happened); silent again before that, the
    same line stands again."""
    fleet = make_fleet(customs, corridor, 1)
    published: list[dict] = []
    fleet.bus.subscribe(lambda _topic, message: published.append(message), topics=(Topic.ALARM,))

    # (its first state came at its spawn: "no state for")
    unreported(fleet, customs, fleet.dispatcher.settings.silent_after_s + 5)
    [alarm] = silent_alarms(fleet)
    assert alarm.cleared_at is None
    fleet.run(5)  # it reports
    [cleared] = silent_alarms(fleet)  # still open: acknowledged by no one yet
    assert cleared.id == alarm.id and cleared.cleared_at is not None
    assert alarm.raised_at < cleared.cleared_at <= customs.clock.now
    assert published[-1]["id"] == alarm.id and published[-1]["cleared_at"] == cleared.cleared_at
    unreported(fleet, customs, fleet.dispatcher.settings.silent_after_s + 5)
    [again] = silent_alarms(fleet)
    assert again.id == alarm.id and again.cleared_at is None  # one line, standing again
    fleet.run(5)
    fleet.dispatcher.alarms.acknowledge(alarm.id, "operator")
    assert silent_alarms(fleet) == [] and fleet.dispatcher.alarms.get(alarm.id).cleared_at is not None
