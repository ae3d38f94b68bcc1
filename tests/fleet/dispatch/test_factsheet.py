"""The factsheet as the vehicle's capabilities: no order for a vehicle that cannot pick and drop, whose payload
is less than the load, or that has published no factsheet yet (it is asked for one)."""

from __future__ import annotations

import dataclasses

import pytest

from fleet.alarms import AlarmKind
from fleet.dispatch.tracks import JobKind
from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def _no_factsheet(sheet):
    return None


def _no_pick(sheet):
    return dataclasses.replace(sheet, actions=tuple(a for a in sheet.actions if a != "pick"))


def _small_payload(sheet):
    return dataclasses.replace(sheet, max_load_mass=15000.0)  # less than one container (20 t counted)


@pytest.mark.parametrize("limited", [_no_factsheet, _no_pick, _small_payload])
def test_the_order_goes_to_the_vehicle_that_can_carry_it(customs, corridor, limited):
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 2, starts=[vn[0], vn[3]])  # agv_001 stands at the pickup
    fleet.authorize("agv_001", "agv_002")
    fleet.link.set_factsheet("agv_001", limited(fleet.link.factsheet("agv_001")))
    asked: list[tuple[str, str]] = []
    send_actions = fleet.link.send_actions
    fleet.link.send_actions = lambda vid, actions: (asked.extend((vid, a.action_type) for a in actions),
                                                    send_actions(vid, actions))
    order = fleet.order(["VN-700000000001"], vn[0], cn[0])
    assert fleet.run(30, until=lambda: fleet.state_of(order) != OrderState.CREATED)
    assert fleet.orders.get(order).vehicle_id == "agv_002"
    assert (("agv_001", "factsheetRequest") in asked) == (limited is _no_factsheet)  # asked for the one it lacks


def test_a_vehicle_slower_than_the_map_is_planned_at_its_own_speed(customs, corridor):
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 1, starts=[vn[0]])
    fleet.authorize("agv_001")
    slow = 2.0  # m/s, below the map's 25 km/h lanes
    fleet.link.set_factsheet("agv_001", dataclasses.replace(fleet.link.factsheet("agv_001"), speed_max=slow))
    order = fleet.order(["VN-700000000002"], vn[0], cn[0])
    track = fleet.dispatcher.tracks["agv_001"]
    # loaded at the dock it stands at, it is planned on (an order not yet loaded is planned to its pickup only)
    assert fleet.run(600, until=lambda: fleet.state_of(order) != OrderState.CREATED and track.plan is not None
                     and len(track.plan.steps) > 1)
    plan = track.plan
    lanes = [corridor.lane_between(a.node, b.node) for a, b in zip(plan.steps, plan.steps[1:], strict=False)]
    assert any(lane.max_speed > slow for lane in lanes)
    too_fast = [(a.node, b.node) for a, b, lane in zip(plan.steps, plan.steps[1:], lanes, strict=False)
                if b.arrive - a.depart < lane.length / min(lane.max_speed, slow) - 1e-6]
    assert not too_fast, too_fast


def _at_the_pickup_with_no_factsheet(customs, corridor, consignment: str):
    """agv_001 standing at the pickup dock of a VN->CN order waiting for it, its factsheet not come: the fleet, the
    order's id and the factsheet kept back."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 1, starts=[vn[0]])
    fleet.authorize("agv_001")
    sheet = fleet.link.factsheet("agv_001")
    fleet.link.set_factsheet("agv_001", None)
    return fleet, fleet.order([consignment], vn[0], cn[0]), sheet


def _parking(fleet) -> list[str]:
    """Filled, after every tick from now on, with the vehicles that have a job to park."""
    parked: list[str] = []
    fleet.checks.append(lambda f: parked.extend(t.id for t in f.dispatcher.tracks.values()
                                                if t.job is not None and t.job.kind == JobKind.PARK))
    return parked


def test_a_vehicle_whose_factsheet_comes_late_stays_at_its_dock_and_takes_the_order_there(customs, corridor):
    """At a busy start (the CI's demo at load ~20) a vehicle's factsheet may come ticks after its first state: the
    vehicle standing at the pickup was sent off to park meanwhile, and fetched back once it was known, costing
    the demo its first delivery. A vehicle of unknown capabilities is not sent driving: it waits where it stands."""
    fleet, order, sheet = _at_the_pickup_with_no_factsheet(customs, corridor, "VN-700000000003")
    vn = docks(corridor, "VN")
    track = fleet.dispatcher.tracks["agv_001"]
    fleet.run(20)
    assert fleet.state_of(order) == OrderState.CREATED and track.job is None, track.job
    assert track.plan is None or {step.node for step in track.plan.steps} == {vn[0]}, track.plan
    fleet.link.set_factsheet("agv_001", sheet)
    assert fleet.run(60, until=lambda: fleet.state_of(order) == OrderState.LOADED)


def test_vehicles_reporting_after_the_first_plan_take_the_orders_waiting_at_their_docks(customs, corridor):
    """Vehicle processes slow to start (the CI's demo at load ~20 raised "never reported" for both): the first plan
    is made without them, and when they report, idle at their docks, they take the orders waiting there rather
    than drive off to park. (Tried as the cause of that demo's failure, where both AGVs drove off first: it passed
    before any change; the causes found are the tests beside it. Kept as the guard of late starters.)"""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 2, starts=[vn[0], cn[0]])
    fleet.authorize("agv_001", "agv_002")
    for vid in ("agv_001", "agv_002"):
        del fleet.link._vehicles[vid]  # their processes still starting
    orders = [fleet.order(["VN-700000000010"], vn[0], cn[1]), fleet.order(["CN-700000000011"], cn[0], vn[1])]
    fleet.release("VN-700000000010", VN_CN)
    fleet.release("CN-700000000011", "CN->VN")
    fleet.run(fleet.dispatcher.settings.silent_after_s + 5)
    assert all(fleet.state_of(o) == OrderState.CREATED for o in orders)
    for vid, dock in (("agv_001", vn[0]), ("agv_002", cn[0])):
        node = corridor.nodes[dock]
        fleet.link.spawn(vid, node.x, node.y, corridor.heading_into(dock), dock)
    parked = _parking(fleet)
    assert fleet.run(60, until=lambda: all(fleet.state_of(o) == OrderState.LOADED for o in orders)), \
        [fleet.state_of(o) for o in orders]
    assert not parked, set(parked)


def test_a_vehicle_is_not_parked_while_a_busy_tick_puts_its_assignment_round_off(customs, corridor):
    """On the loop's thread an assignment round is put off (up to a second) once a tick has spent its budget, but
    the replans after it still ran: a vehicle newly free at a dock, its factsheet just come, was sent off to park
    in that tick before any round had offered it the order waiting at its dock (the CI's demo at load ~20 drove
    both AGVs away from theirs, a cause found by reading the loop after two failures)."""
    fleet, order, sheet = _at_the_pickup_with_no_factsheet(customs, corridor, "VN-700000000020")
    fleet.release("VN-700000000020", VN_CN)
    fleet.run(3)  # rounds run, with no factsheet: nothing given out
    assert fleet.state_of(order) == OrderState.CREATED
    fleet.dispatcher._over_budget = lambda: True  # a loaded machine: every tick past its budget
    fleet.link.set_factsheet("agv_001", sheet)
    parked = _parking(fleet)
    assert fleet.run(60, until=lambda: fleet.state_of(order) == OrderState.LOADED), fleet.state_of(order)
    assert not parked, set(parked)


def test_a_vehicle_that_never_publishes_its_factsheet_stays_put_and_an_operator_is_told(customs, corridor):
    """It takes no order and, of a size unknown, is not sent driving (not even to park off the dock it blocks):
    after a minute of asking, an alarm says why it stands there."""
    fleet, order, _ = _at_the_pickup_with_no_factsheet(customs, corridor, "VN-700000000030")
    fleet.run(50)
    assert not [a for a in fleet.dispatcher.alarms.list()[0] if a.kind == AlarmKind.VEHICLE_FAULT]
    fleet.run(30)
    [alarm] = [a for a in fleet.dispatcher.alarms.list()[0] if a.kind == AlarmKind.VEHICLE_FAULT]
    assert alarm.subject == "agv_001" and "no factsheet" in alarm.message, alarm
    assert fleet.state_of(order) == OrderState.CREATED
    pickup = fleet.orders.get(order).pickup
    assert fleet.link.state("agv_001").last_node_id == pickup and fleet.dispatcher.tracks["agv_001"].job is None


def test_a_vehicle_customs_has_not_yet_authorized_stays_at_its_dock_and_takes_the_order_there(customs, corridor):
    """At a busy start the customs simulators' authorizations may come after the vehicles' first states: the
    vehicle standing at the pickup, offered the order it could not yet take (not authorized to cross), was sent
    off to park and fetched back once authorized (the stop's CI: both AGVs of the demo drove off first and
    delivered nothing in 260 s). Customs whose link has not come up yet has not refused it: it waits there. (An
    authority heard from and silent about a vehicle does not authorize it: test_stalled_view's agv_002 parks.)"""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 1, starts=[vn[0]])
    order = fleet.order(["VN-700000000040"], vn[0], cn[0])
    parked = _parking(fleet)
    fleet.run(20, heartbeats=False)  # neither customs simulator up yet
    assert fleet.state_of(order) == OrderState.CREATED and not parked, set(parked)
    fleet.authorize("agv_001")
    fleet.release("VN-700000000040", VN_CN)
    assert fleet.run(60, until=lambda: fleet.state_of(order) == OrderState.LOADED), fleet.state_of(order)
    assert not parked, set(parked)


def test_a_vehicle_authorized_a_moment_after_another_stays_at_its_dock(customs, corridor):
    """The demo again (three of its four AGVs drove off their docks and fetched their orders back 40 s later):
    a customs simulator sends its authorizations one event at a time, and the fleet, having heard the first, took
    its silence about the other vehicles for a refusal. An authority's silence about a vehicle counts once its first
    burst of events has had 10 s to come."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 2, starts=[vn[0], vn[1]])
    orders = [fleet.order([f"VN-70000000004{i + 1}"], vn[i], cn[i]) for i in (0, 1)]
    parked = _parking(fleet)
    fleet.run(5, heartbeats=False)  # neither customs simulator up yet
    fleet.authorize("agv_001")
    fleet.dispatcher.gate.ingest(customs.vn.event("vehicle.authorized", vehicle_id="agv_002"), "test")
    fleet.run(3, heartbeats=False)  # CN's word on agv_002 is on its way
    fleet.dispatcher.gate.ingest(customs.cn.event("vehicle.authorized", vehicle_id="agv_002"), "test")
    for i in (1, 2):
        fleet.release(f"VN-70000000004{i}", VN_CN)  # (both customs' clearances of the loads)
    assert fleet.run(60, until=lambda: all(fleet.state_of(o) == OrderState.LOADED for o in orders)), \
        [fleet.state_of(o) for o in orders]
    assert not parked, set(parked)


@pytest.mark.parametrize("speed_max", [0.0, -2.0, float("nan")])
def test_a_factsheet_whose_top_speed_is_no_speed_takes_no_order_and_stops_no_one_else(customs, corridor, speed_max):
    """A factsheet with speedMax 0 (an agent started so, or anyone on the vehicle network publishing one for it) made
    every dispatch tick fail for the whole fleet: the vehicle's profile refused the speed it was to be planned at."""
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    fleet = make_fleet(customs, corridor, 2, starts=[vn[0], vn[3]])  # agv_001 stands at the pickup
    fleet.authorize("agv_001", "agv_002")
    fleet.link.set_factsheet("agv_001", dataclasses.replace(fleet.link.factsheet("agv_001"), speed_max=speed_max))
    order = fleet.order(["VN-700000000003"], vn[0], cn[0])
    assert fleet.run(30, until=lambda: fleet.state_of(order) != OrderState.CREATED)
    assert fleet.orders.get(order).vehicle_id == "agv_002"
