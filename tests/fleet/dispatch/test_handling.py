"""The order follows the vehicle's own report of its pick and drop (VDA 5050 action states), not a planned time:
loaded when the pick is FINISHED, delivered when the drop is; a FAILED pick or drop fails the order with an
alarm, and a vehicle whose pick failed is never sent across."""

from __future__ import annotations

import math

import pytest
from agv_agent.protocol import ActionType

from fleet.orders import OrderCreate, OrderError, OrderState
from fleet.orders.model import LOADED_STATES
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def _order_ahead_of_the_vehicle(fleet, order_id: str) -> list[str]:
    """The order's state against what the vehicle reports carrying (its ``loads``)."""
    order = fleet.orders.get(order_id)
    if order.vehicle_id is None:
        return []
    loads = fleet.link.state(order.vehicle_id).loads
    if order.state in LOADED_STATES and not loads:
        return [f"{order.state} while {order.vehicle_id} reports nothing aboard"]
    if order.state == OrderState.DELIVERED and loads:
        return [f"delivered while {order.vehicle_id} still carries {loads}"]
    return []


def test_loaded_and_delivered_when_the_vehicle_reports_its_pick_and_drop_finished(customs, corridor):
    """The vehicle's handling takes 90 s, longer than the 20 s the plan allows at a dock."""
    fleet = make_fleet(customs, corridor, 2, handling_s=90)
    fleet.authorize("agv_001", "agv_002")
    order = fleet.order(["VN-600000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-600000000001", VN_CN)
    wrong: list[str] = []
    fleet.checks.append(lambda f: wrong.extend(_order_ahead_of_the_vehicle(f, order)))
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.orders.get(order)
    assert not wrong, wrong[:3]
    causes = {s.to_state: s.cause for s in fleet.orders.get(order).timeline}
    assert causes[OrderState.LOADED]["action_status"] == causes[OrderState.DELIVERED]["action_status"] == "FINISHED"


def _one_order_whose_handling_fails(customs, corridor, action: ActionType, why: str, consignment: str):
    """One vehicle, one order VN -> CN, released by customs; the vehicle's next ``action`` will fail."""
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    fleet.link.fail_next_handling("agv_001", action, why)
    order = fleet.order([consignment], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release(consignment, VN_CN)
    return fleet, order


def test_a_failed_pick_fails_the_order_and_the_vehicle_stays_on_its_side(customs, corridor):
    fleet, order = _one_order_whose_handling_fails(customs, corridor, ActionType.PICK, "no container at the dock",
                                                   "VN-600000000002")
    assert fleet.run(600, until=lambda: fleet.state_of(order) == OrderState.FAILED), fleet.orders.get(order)
    fleet.run(300)
    failed = fleet.orders.get(order)
    assert OrderState.LOADED not in {s.to_state for s in failed.timeline}
    assert "no container at the dock" in failed.timeline[-1].reason
    alarms, _ = fleet.dispatcher.alarms.list(open_only=True)
    assert [(a.kind, a.subject) for a in alarms if a.kind == "handling_failed"] == [("handling_failed", "agv_001")]
    released = {node.node_id for _, _, sent in fleet.link.sent_orders for node in sent.nodes if node.released}
    assert all(corridor.nodes[n].jurisdiction == "VN" for n in released), released  # never released across
    job = fleet.dispatcher.tracks["agv_001"].job
    assert job is None or (job.kind == "park" and job.order is None)  # free for other work, clearing the dock


def test_a_failed_drop_fails_the_order_and_the_load_goes_to_a_holding_bay(customs, corridor):
    fleet, order = _one_order_whose_handling_fails(customs, corridor, ActionType.DROP, "twistlocks did not open",
                                                   "VN-600000000003")
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.FAILED), fleet.orders.get(order)
    track = fleet.dispatcher.tracks["agv_001"]
    assert track.job is not None and track.job.kind == "hold"
    assert {corridor.nodes[g].jurisdiction for g in track.job.goals} == {"CN"}  # the side it is on
    bays = track.job.goals
    visited: set[str] = set()
    fleet.checks.append(lambda f: visited.add(f.link.state("agv_001").last_node_id))
    assert fleet.run(2400, until=lambda: fleet.link.state("agv_001").last_node_id in bays)
    # never onto the line with the load: on Bac Luan II the CN holding bays are reached from the bridge, and a
    # turn over the handoff pad was planned, the gate rule asked as for an empty vehicle
    line = {lane.target for lane in corridor.crossing_lanes} | {lane.source for lane in corridor.crossing_lanes}
    assert not visited & line - {"cn_deck_out_1", "vn_deck_out_1"}, sorted(visited & line)
    assert fleet.link.state("agv_001").loads  # still aboard, where a person can see to it


def _held_at_its_bay(customs, corridor, consignment: str):
    """A failed drop at the CN dock: the load is driven to a CN holding bay and stands there (an operator may
    not say it was taken off while it is on its way)."""
    fleet, order = _one_order_whose_handling_fails(customs, corridor, ActionType.DROP, "twistlocks did not open",
                                                   consignment)
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.FAILED), fleet.orders.get(order)
    with pytest.raises(OrderError, match="on its way"):
        fleet.dispatcher.load_removed("agv_001", "operator", "too soon")
    bays = fleet.dispatcher.tracks["agv_001"].job.goals
    assert fleet.run(2400, until=lambda: fleet.link.state("agv_001").last_node_id in bays)
    return fleet, order


def test_a_held_load_keeps_its_vehicle_at_the_bay_until_an_operator_says_it_was_taken_off(customs, corridor):
    """At the bay the vehicle still carries the containers: it takes no other order and parks nowhere (a vehicle
    set free there had gone to park, or across for another order, with a load no order carried and the gate rule
    asked as for an empty vehicle) until an operator confirms the load was taken off by hand."""
    fleet, _ = _held_at_its_bay(customs, corridor, "VN-600000000004")
    bay = fleet.link.state("agv_001").last_node_id
    alarms, _ = fleet.dispatcher.alarms.list(open_only=True)
    held = [a for a in alarms if a.kind == "load_held"]
    assert [a.subject for a in held] == ["agv_001"] and "VN-600000000004" in held[0].message, alarms
    assert fleet.dispatcher.vehicle("agv_001").held_load == ["VN-600000000004"]
    assert fleet.dispatcher.vehicle("agv_001").held_at == bay
    second = fleet.order(["CN-600000000005"], docks(corridor, "CN")[1], docks(corridor, "VN")[1])
    fleet.release("CN-600000000005", "CN->VN")
    fleet.run(900)
    assert fleet.state_of(second) == OrderState.CREATED  # nobody else to take it: it waits
    assert fleet.link.state("agv_001").last_node_id == bay
    again = OrderCreate(consignments=["VN-600000000004"], pickup=docks(corridor, "VN")[0],
                        drop=docks(corridor, "CN")[0])
    fleet.dispatcher.load_removed("agv_001", "operator", "the yard crew took the container off")
    assert fleet.dispatcher.vehicle("agv_001").held_load == []
    with pytest.raises(OrderError, match="already crossed VN->CN"):  # across with its failed order: its crossing used
        fleet.orders.create(again, "test")
    assert fleet.run(3600, until=lambda: fleet.state_of(second) == OrderState.DELIVERED), fleet.orders.get(second)


def test_a_held_load_outlives_a_restart(customs, corridor):
    from tests.fleet.dispatch.test_loop import make_fleet_again

    fleet, _ = _held_at_its_bay(customs, corridor, "VN-600000000006")
    restarted = make_fleet_again(fleet)
    restarted.run(60)
    track = restarted.dispatcher.tracks["agv_001"]
    assert track.job is not None and track.job.kind == "hold" and track.job.aboard == ("VN-600000000006",)
    assert restarted.dispatcher.vehicle("agv_001").held_load == ["VN-600000000006"]


def test_an_operator_cannot_say_a_load_was_taken_off_a_vehicle_that_holds_none(customs, corridor):
    fleet = make_fleet(customs, corridor, 1)
    with pytest.raises(OrderError, match="holds no load"):
        fleet.dispatcher.load_removed("agv_001", "operator", "by mistake")


def test_a_load_cancelled_at_its_outbound_gate_is_taken_off_there_and_the_vehicle_goes_on_empty(customs, corridor):
    """Customs never clears the load and the order is cancelled while its vehicle waits at its outbound gate, from
    which the only way on is across: no bay can be reached short of the border. It had stalled there for good
    ("cannot reach vn_hold_1, ... from vn_gate_out_2"), the gate lane closed, nobody told. It waits there for the
    load to be taken off (an alarm says so); once an operator says it was, the vehicle is free and leaves the
    gate (empty: across, the gate rule asked for the vehicle alone)."""
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    order = fleet.order(["VN-600000000007"], docks(corridor, "VN")[1], docks(corridor, "CN")[1])
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.AWAITING_CLEARANCE)
    vehicle = fleet.orders.get(order).vehicle_id
    assert fleet.run(600, until=lambda: fleet.link.state(vehicle).last_node_id.startswith("vn_gate_out"))
    gate = fleet.link.state(vehicle).last_node_id
    fleet.dispatcher.cancel_order(order, "customs will not clear it", "dispatcher")
    assert fleet.run(60, until=lambda: fleet.dispatcher.vehicle(vehicle).held_at == gate)
    alarms, _ = fleet.dispatcher.alarms.list(open_only=True)
    assert [(a.kind, a.subject) for a in alarms if a.kind == "load_held"] == [("load_held", vehicle)]
    released = {node.node_id for _, vid, sent in fleet.link.sent_orders if vid == vehicle
                for node in sent.nodes if node.released}
    assert all(corridor.nodes[n].jurisdiction == "VN" for n in released), released  # never across with it
    again = OrderCreate(consignments=["VN-600000000007"], pickup=docks(corridor, "VN")[0],
                        drop=docks(corridor, "CN")[0])
    with pytest.raises(OrderError, match=f"still aboard {vehicle}"):  # it is on the vehicle, at no dock
        fleet.orders.create(again, "test")
    fleet.dispatcher.load_removed(vehicle, "operator", "taken off at the gate")
    assert fleet.run(1800, until=lambda: fleet.link.state(vehicle).last_node_id != gate)
    assert fleet.orders.create(again, "test")[1]  # off the vehicle, short of the border: it can be booked again


def _cancelled_on_its_way_to_load(customs, corridor, consignment: str, cancel_when, handling_s: float = 90,
                                  vendor=None, settle: bool = True) -> tuple:
    """One vehicle whose pick takes ``handling_s``, on its way to load a cleared VN->CN order, cancelled once
    ``cancel_when(fleet, vehicle)``; ``vendor(agent)`` changes the vehicle's firmware first. If ``settle``, run
    until the fleet has settled what the vehicle holds (free, or a hold job). The fleet, the order, the vehicle,
    and where it went with something aboard or not."""
    fleet = make_fleet(customs, corridor, 2, handling_s=handling_s)
    fleet.authorize("agv_001", "agv_002")
    order = fleet.order([consignment], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release(consignment, VN_CN)
    assert fleet.run(1800, until=lambda: fleet.state_of(order) == OrderState.TO_PICKUP)
    vehicle = fleet.orders.get(order).vehicle_id
    if vendor is not None:
        vendor(fleet.link._vehicles[vehicle].logic)
    assert fleet.run(600, until=lambda: cancel_when(fleet, vehicle))
    fleet.dispatcher.cancel_order(order, "the buyer withdrew", "dispatcher")
    assert fleet.dispatcher.vehicle(vehicle).job == "cancel_pick"
    assert _stored_held_load(fleet, vehicle) is not None  # counted aboard until it says (a restart holds it)
    again = OrderCreate(consignments=[consignment], pickup=docks(corridor, "VN")[0], drop=docks(corridor, "CN")[0])
    with pytest.raises(OrderError, match=f"may be aboard {vehicle}: .* not said yet"):
        fleet.orders.create(again, "test")
    with pytest.raises(OrderError, match="has not said yet whether it loaded"):
        fleet.dispatcher.load_removed(vehicle, "operator", "too soon")
    carried: list[tuple[str, bool]] = []  # (node, something aboard)
    fleet.checks.append(lambda f: carried.append((f.link.state(vehicle).last_node_id,
                                                  bool(f.link.state(vehicle).loads))))
    assert not settle or fleet.run(900, until=lambda: fleet.dispatcher.vehicle(vehicle).job != "cancel_pick")
    return fleet, order, vehicle, carried


def _stored_held_load(fleet, vehicle: str):
    """What the registry's store keeps as held aboard ``vehicle`` (what a restart would find)."""
    return next(r.held_load for r in fleet.dispatcher.registry.all() if r.id == vehicle)


def _picking(fleet, vehicle) -> bool:
    return any(a.action_type == ActionType.PICK and a.status == "RUNNING"
               for a in fleet.link.state(vehicle).action_states)


def _one_node_before_the_dock(fleet, vehicle) -> bool:
    """Released up to its pickup dock, one node short of it."""
    plan, state = fleet.dispatcher.tracks[vehicle].plan, fleet.link.state(vehicle)
    nodes = [s.node for s in plan.steps] if plan is not None else []
    dock = next((s.node for s in plan.steps if s.action == "pickup"), None) if plan is not None else None
    released = {n.node_id for n in state.node_states if n.released}
    return dock in released and state.last_node_id in nodes and nodes.index(dock) - nodes.index(state.last_node_id) == 1


@pytest.mark.parametrize("cancel_when", [_picking, _one_node_before_the_dock], ids=["picking", "dock_released"])
def test_an_order_cancelled_while_its_vehicle_may_still_load_it_stops_the_pick(customs, corridor, cancel_when):
    """Found by hand: cancelled while its vehicle loaded it (or with the dock released to it, whose pick no update
    takes back), the container was loaded all the same and the vehicle, taken for empty, drove off with it to
    park, free for any order (across the border too); the order said cancelled, the vehicle held nothing, and
    nobody knew where the container was. Now the vehicle is sent a ``cancelOrder`` once it stands at a node (at
    the dock, loading): the pick stops, and the vehicle, empty by its own report, is free again."""
    fleet, order, vehicle, carried = _cancelled_on_its_way_to_load(customs, corridor, "VN-600000000008", cancel_when)
    state = fleet.link.state(vehicle)
    assert not state.loads and not any(aboard for _, aboard in carried), carried  # it never loaded it
    new = [o for _, v, o in fleet.link.sent_orders if v == vehicle and o.order_update_id == 0]
    assert len(new) == 2 and new[-1].nodes[0].node_id == docks(corridor, "VN")[0]  # cancelled: a new order there
    assert "the pick at" in fleet.orders.get(order).timeline[-1].reason
    view = fleet.dispatcher.vehicle(vehicle)
    assert view.job in (None, "park") and view.held_load == [] and _stored_held_load(fleet, vehicle) is None
    fleet.run(600)  # free: it goes on from where it stood, and parks
    state = fleet.link.state(vehicle)
    assert not state.loads and fleet.dispatcher.vehicle(vehicle).job is None
    assert corridor.nodes[state.last_node_id].kind == "parking", state.last_node_id
    again = OrderCreate(consignments=["VN-600000000008"], pickup=docks(corridor, "VN")[0],
                        drop=docks(corridor, "CN")[0])
    assert fleet.orders.create(again, "test")[1]  # still at its dock: booked again at once


def _finishes_a_running_pick_when_cancelled(agent) -> None:
    """A vendor's firmware (VDA 5050 lets a running action finish on ``cancelOrder``): the pick under way ends
    FINISHED, the load aboard, before the cancel."""
    cancel = agent._cancel

    def finish_then_cancel(action):
        for running in agent.order_actions.values():
            if running.action.action_type == ActionType.PICK and running.status == "RUNNING":
                running.until = -math.inf
        agent._run_actions(0.0)
        return cancel(action)
    agent._cancel = finish_then_cancel


def _keeps_picking_when_cancelled(agent) -> None:
    """A vendor's firmware that says a ``cancelOrder`` done at once and finishes a pick under way after it."""
    cancel = agent._cancel

    def cancel_all_but_the_pick(action):
        picks = {k: r for k, r in agent.order_actions.items()
                 if r.action.action_type == ActionType.PICK and r.status == "RUNNING"}
        for k in picks:
            del agent.order_actions[k]
        done = cancel(action)
        agent.order_actions.update(picks)
        return done
    agent._cancel = cancel_all_but_the_pick


@pytest.mark.parametrize("vendor", [_finishes_a_running_pick_when_cancelled, _keeps_picking_when_cancelled],
                         ids=["finishes-before-the-cancel", "finishes-after-the-cancel"])
def test_a_container_loaded_all_the_same_is_held_never_taken_for_empty(customs, corridor, vendor):
    """A vendor's vehicle that finishes a pick under way when its order is cancelled: its report says the load is
    aboard, and the vehicle takes it to a holding bay on its side (a ``load_held`` alarm there), never across,
    and waits until an operator says it was taken off."""
    fleet, order, vehicle, carried = _cancelled_on_its_way_to_load(customs, corridor, "VN-600000000009", _picking,
                                                                   vendor=vendor)
    assert fleet.run(900, until=lambda: fleet.dispatcher.vehicle(vehicle).held_at is not None)
    view = fleet.dispatcher.vehicle(vehicle)
    assert view.held_load == ["VN-600000000009"] and view.job == "hold"
    assert fleet.link.state(vehicle).loads  # it did load it
    assert corridor.nodes[view.held_at].kind in ("holding", "inspection") and view.held_at.startswith("vn_")
    assert all(corridor.nodes[n].jurisdiction == "VN" for n, _ in carried)
    alarms, _ = fleet.dispatcher.alarms.list(open_only=True)
    assert [a.subject for a in alarms if a.kind == "load_held"] == [vehicle]
    assert _stored_held_load(fleet, vehicle).consignments == ["VN-600000000009"]
    again = OrderCreate(consignments=["VN-600000000009"], pickup=docks(corridor, "VN")[0],
                        drop=docks(corridor, "CN")[0])
    with pytest.raises(OrderError, match=f"still aboard {vehicle}"):  # not at its dock any more
        fleet.orders.create(again, "test")
    assert fleet.orders.get(order).state == OrderState.CANCELLED


def test_a_vehicle_out_of_dispatch_before_it_said_whether_it_loaded_is_not_given_its_order_back(customs, corridor):
    """The vehicle of the cancelled order went offline before it said whether it loaded (and so out of dispatch):
    its cancelled order is no order it holds for another vehicle to take over. Back online, it is stopped at the
    dock as ever and is free, the order still cancelled with nothing after."""
    fleet, order, vehicle, _ = _cancelled_on_its_way_to_load(customs, corridor, "VN-600000000011",
                                                             _one_node_before_the_dock, settle=False)
    fleet.link.set_online(vehicle, False)
    fleet.run(fleet.dispatcher.settings.reassign_after_s + 60)
    fleet.link.set_online(vehicle, True)
    assert fleet.run(900, until=lambda: fleet.dispatcher.vehicle(vehicle).job != "cancel_pick")
    timeline = fleet.orders.get(order).timeline
    assert timeline[-1].to_state == OrderState.CANCELLED, [t.to_state for t in timeline]
    assert not fleet.link.state(vehicle).loads and fleet.dispatcher.vehicle(vehicle).held_load == []


def test_a_restart_before_the_vehicle_said_whether_it_loaded_holds_the_load(customs, corridor):
    """The fleet manager restarted between the cancel and the vehicle's answer: the registry kept the load as
    aboard, and the new process holds it (a holding bay, an operator to say it was taken off), never a vehicle
    taken for empty."""
    from tests.fleet.dispatch.test_loop import make_fleet_again

    fleet, _, vehicle, _ = _cancelled_on_its_way_to_load(customs, corridor, "VN-600000000010", _picking,
                                                         settle=False)
    restarted = make_fleet_again(fleet)
    restarted.run(60)
    track = restarted.dispatcher.tracks[vehicle]
    assert track.job is not None and track.job.kind == "hold" and track.job.aboard == ("VN-600000000010",)


def test_an_order_cancelled_before_its_dock_is_released_leaves_its_vehicle_empty_and_free(customs, corridor):
    """Two orders at one dock: the second vehicle waits short of it, nothing released to it there; cancelled, its
    order leaves it empty and free (no load taken to be aboard)."""
    fleet = make_fleet(customs, corridor, 2, handling_s=90, starts=["vn_parking_1", "vn_parking_2"])
    fleet.authorize("agv_001", "agv_002")
    dock = docks(corridor, "VN")[0]
    orders = [fleet.order([f"VN-60000000001{i}"], dock, docks(corridor, "CN")[i]) for i in range(2)]
    for i in range(2):
        fleet.release(f"VN-60000000001{i}", VN_CN)

    def short_of_the_dock() -> str | None:
        """The order whose vehicle has it, with its dock not released to it."""
        for order in orders:
            vehicle = fleet.orders.get(order).vehicle_id
            if fleet.state_of(order) == OrderState.TO_PICKUP and dock not in {
                    n.node_id for n in fleet.link.state(vehicle).node_states if n.released}:
                return order
        return None

    assert fleet.run(1800, until=lambda: short_of_the_dock() is not None)
    order = short_of_the_dock()
    vehicle = fleet.orders.get(order).vehicle_id
    fleet.dispatcher.cancel_order(order, "the buyer withdrew", "dispatcher")
    fleet.run(600)
    assert not fleet.link.state(vehicle).loads
    assert fleet.dispatcher.vehicle(vehicle).held_load == []
