"""The order follows the vehicle's own report of its pick and drop (VDA 5050 action states), not a planned time:
loaded when the pick is FINISHED, delivered when the drop is; a FAILED pick or drop fails the order with an
alarm, and a vehicle whose pick failed is never sent across."""

from __future__ import annotations

from agv_agent.protocol import ActionType

from fleet.orders import OrderState
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
