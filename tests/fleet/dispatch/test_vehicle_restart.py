"""A vehicle's own software restarted (its process killed, started again where the vehicle stands): it knows
no order, and the fleet must give it one from where it stands."""

from __future__ import annotations

import dataclasses

import networkx as nx
import pytest
from agv_agent.protocol import EStop, OrderNode

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


@pytest.mark.slow
def test_a_vehicle_restarted_on_the_bridge_is_given_an_order_from_where_it_stands(customs, corridor):
    """Found live (4 AGVs over DDS, agv_002 killed with kill -9 on the bridge and started again at its pose): the
    vehicle refused every order the fleet sent ("order starts at vn_dock_2, the vehicle is at border_southbound,
    2917.0 m away", then "new order ... must have order_update_id 0, not 1") and stood on the bridge for good,
    its order ``crossing``, with no alarm and no ``stalled_because``."""
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    docks = sorted(n for n in corridor.nodes if n.startswith("vn_dock"))
    out = fleet.order(["VN-100000000900"], docks[0], sorted(n for n in corridor.nodes if n.startswith("cn_dock"))[0])
    fleet.release("VN-100000000900", VN_CN)

    def on_the_bridge() -> bool:
        state = fleet.link.state("agv_001")
        return state is not None and fleet.state_of(out) == OrderState.CLEARED and 0.0 < state.pose.y < 150.0

    assert fleet.run(3600, until=on_the_bridge)
    state = fleet.link.state("agv_001")
    fleet.link.set_online("agv_001", False)  # the process killed
    fleet.run(30)
    fleet.link.spawn("agv_001", state.pose.x, state.pose.y, state.pose.theta, state.last_node_id)  # started again
    assert fleet.run(900, until=lambda: fleet.state_of(out) == OrderState.DELIVERED), \
        [e.description for e in fleet.link.state("agv_001").errors]


def _restarted_on_the_bridge(customs, corridor, consignment: str, where, while_down=lambda fleet: None):
    """One authorized vehicle with a cleared VN->CN order, run until ``where(state)`` holds of it on the bridge;
    its process is then killed, ``while_down(fleet)`` runs, and it is started again where it stood. The fleet and
    the order."""
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    order = fleet.order([consignment], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release(consignment, VN_CN)
    assert fleet.run(3600, until=lambda: where(fleet.link.state("agv_001")))
    state = fleet.link.state("agv_001")
    fleet.link.set_online("agv_001", False)
    while_down(fleet)
    fleet.run(30)
    fleet.link.spawn("agv_001", state.pose.x, state.pose.y, state.pose.theta, state.last_node_id)
    return fleet, order


def _alarms(fleet, kind: str) -> list[str]:
    alarms, _ = fleet.dispatcher.alarms.list()
    return [a.message for a in alarms if a.kind == kind]


@pytest.mark.slow
def test_a_vehicle_restarted_halfway_along_a_lane_is_sent_on_from_there(customs, corridor):
    """Restarted 60 m past vn_deck_out_0: more than the 5 m at which a vehicle standing idle is taken for one moved
    off its way by people. It stands on the lane its plan goes on by: no such alarm, sent on from there."""
    fleet, order = _restarted_on_the_bridge(customs, corridor, "VN-100000000911",
                                            lambda s: s.last_node_id == "vn_deck_out_0" and s.pose.y > 60.0)
    assert fleet.run(900, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), \
        [e.description for e in fleet.link.state("agv_001").errors]
    assert not _alarms(fleet, "vehicle_off_its_way")


@pytest.mark.slow
def test_a_vehicle_restarted_on_the_crossing_lane_finishes_the_crossing_it_was_released(customs, corridor):
    """Restarted on the crossing lane, released across before it stopped, while China put the load on hold: the
    vehicle cannot turn back on the bridge, and finishing the crossing is what clears it. It goes on across on the
    decision that released it (recorded as the crossing's), not held on the bridge for a new one."""
    def hold(fleet) -> None:
        assert fleet.dispatcher.gate.ingest(customs.cn.event("hold", "VN-100000000912", direction=VN_CN),
                                            "test").acknowledged

    fleet, order = _restarted_on_the_bridge(
        customs, corridor, "VN-100000000912",
        lambda s: s.last_node_id == "vn_deck_out_1" and 135.0 < s.pose.y < 150.0, hold)
    assert fleet.run(900, until=lambda: fleet.state_of(order) == OrderState.TO_DROP), \
        [e.description for e in fleet.link.state("agv_001").errors]
    [crossing] = [r for r in fleet.store.audit_records() if r.kind == "crossing"]
    decision = next(r for r in fleet.store.audit_records() if r.seq == crossing.body["decision_audit_seq"])
    assert decision.kind == "decision" and decision.body["crossing_allowed"] is True


@pytest.mark.slow
def test_a_vehicle_restarted_short_of_the_crossing_is_not_sent_across_without_a_decision(customs, corridor):
    """Restarted on the deck before the last node before the crossing, not yet released across, while China put
    the load on hold: sent on to that node only, where it waits for the clearance (its order back to
    ``awaiting_clearance``), then across once China lifts the hold."""
    def hold(fleet) -> None:
        assert fleet.dispatcher.gate.ingest(customs.cn.event("hold", "VN-100000000913", direction=VN_CN),
                                            "test").acknowledged

    fleet, order = _restarted_on_the_bridge(customs, corridor, "VN-100000000913",
                                            lambda s: s.last_node_id == "vn_deck_out_0" and s.pose.y > 30.0, hold)
    fleet.run(300)
    state = fleet.link.state("agv_001")
    assert state.last_node_id == "vn_deck_out_1" and state.pose.y < 130.0, state.pose
    assert not [n for n in state.node_states if n.released], state.node_states
    assert fleet.state_of(order) == OrderState.AWAITING_CLEARANCE
    assert not [r for r in fleet.store.audit_records() if r.kind == "crossing"]
    assert fleet.dispatcher.gate.ingest(customs.cn.event("hold.lifted", "VN-100000000913", direction=VN_CN),
                                        "test").acknowledged
    assert fleet.run(900, until=lambda: fleet.state_of(order) == OrderState.TO_DROP)


@pytest.mark.slow
def test_a_restarted_vehicle_that_refuses_its_orders_for_good_is_raised_and_says_why(customs, corridor):
    """Restarted 3 m beside its lane (within the 5 m of its node at which it counts as moved off its way): the order
    from where it stands cannot take it in, and it refuses every one. An alarm names the refusal, and its view says
    why it stands (``stalled_because``); before, nothing did."""
    def beside(state) -> bool:
        return state.last_node_id == "vn_deck_out_0" and state.pose.y > 1.0

    fleet, _ = _restarted_on_the_bridge(customs, corridor, "VN-100000000914", beside)
    state = fleet.link.state("agv_001")
    fleet.link.move_by_hand("agv_001", state.pose.x + 3.0, 1.0)
    fleet.run(120)
    [alarm] = _alarms(fleet, "vehicle_fault")
    assert "does not take its orders" in alarm and "order starts at vn_deck_out_0" in alarm, alarm
    why = fleet.dispatcher.vehicle("agv_001").stalled_because
    assert why is not None and why.startswith("does not take its orders"), why


@pytest.mark.slow
def test_a_vehicle_and_the_fleet_manager_both_restarted_on_the_crossing_lane_finish_the_crossing(customs, corridor):
    """The vehicle restarted on the crossing lane, released across before it stopped, and the fleet manager
    restarted meanwhile: the vehicle knows no order, and the new fleet manager no plan. What it released before
    is in the store: the vehicle goes on across on the decision that released it, with no alarm."""
    from tests.fleet.dispatch.test_loop import make_fleet_again

    fleet, order = _restarted_on_the_bridge(
        customs, corridor, "VN-100000000914",
        lambda s: s.last_node_id == "vn_deck_out_1" and 135.0 < s.pose.y < 150.0)
    fleet = make_fleet_again(fleet)
    assert fleet.run(900, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), \
        ([e.description for e in fleet.link.state("agv_001").errors], fleet.dispatcher.alarms.list()[0])
    alarms, _ = fleet.dispatcher.alarms.list()  # (but the vehicle's going offline as its process was killed)
    assert [a.kind for a in alarms] == ["vehicle_offline"], [(a.kind, a.message) for a in alarms]
    [crossing] = [r for r in fleet.store.audit_records() if r.kind == "crossing"]
    assert crossing.body.get("decision_audit_seq") is not None, crossing.body


def _forged(fleet, node_states) -> None:
    """agv_001's states as the fleet reads them, with ``node_states(its nodes)`` for its nodes (a vendor's bug, a
    forged state)."""
    real = fleet.link.snapshot

    def forged(vehicle: str):
        seen = real(vehicle)
        if vehicle != "agv_001" or seen.state is None:
            return seen
        return seen._replace(state=dataclasses.replace(seen.state, node_states=node_states(seen.state.node_states)))

    fleet.link.snapshot = forged


def _driven_over_the_deck(fleet) -> int:
    """agv_001 driven by hand from short of the border line over the deck towards China until it is stopped (an
    emergency stop): where it was then (y, the line at 0)."""
    for y in range(-20, 60, 2):
        fleet.link.move_by_hand("agv_001", 9.0, float(y))
        fleet.run(0.5)
        if fleet.link.state("agv_001").e_stop != EStop.NONE:
            return y
    raise AssertionError("never stopped, driven on to y = 58 (across)")


@pytest.mark.slow
def test_a_base_reported_beyond_the_way_released_before_a_restart_is_not_planned_from(customs, corridor):
    """Found by reading it, then trying it: after a restart of the fleet manager the base a vehicle reported of the
    fleet's last order was taken as it came. A vehicle waiting at its gate for China's clearance that then reports
    its way released on over the bridge (a vendor's bug, a forged state) was planned on from across the border and
    believed released there. Now the way stored before the restart is what it was released: out of service with a
    ``vehicle_fault`` alarm, not planned; driven on all the same, it is stopped short of the line."""
    from tests.fleet.dispatch.test_cleared import _at_its_gate
    from tests.fleet.dispatch.test_loop import make_fleet_again

    fleet, order, _ = _at_its_gate(customs, corridor, "VN-100000000915")
    _forged(fleet, lambda nodes: tuple(dataclasses.replace(n, released=True) for n in nodes))
    fleet = make_fleet_again(fleet)
    fleet.run(2)
    track = fleet.dispatcher.tracks["agv_001"]
    faults = _alarms(fleet, "vehicle_fault")
    assert len(faults) == 1 and "beyond the way last released to it" in faults[0], faults
    assert not track.record.in_service and track.plan is None
    assert fleet.state_of(order) == OrderState.AWAITING_CLEARANCE
    y = _driven_over_the_deck(fleet)  # and it drives on over the deck all the same
    assert y <= 2, y
    assert not [r for r in fleet.store.audit_records() if r.kind == "crossing"]
    fleet.dispatcher.set_in_service("agv_001", True, "operator", "seen to on site")  # people vouch for it
    fleet.run(2)
    assert track.record.in_service and len(_alarms(fleet, "vehicle_fault")) == 1


@pytest.mark.slow
def test_a_base_reported_before_the_plan_after_a_restart_is_believed_only_on_the_stored_way(customs, corridor):
    """Found by reading it: once a vehicle was planned after a restart of the fleet manager, a node it reported
    released at a sequence id before its plan's first step was taken as it said (the way released before the
    restart is known only so). A vehicle waiting at its gate for China's clearance that then reports its way
    released over the bridge at such sequence ids (a vendor's bug, a forged state) was believed released across,
    and driven on over the deck it was not stopped. Now what it reported before its plan is believed only on the
    way stored before the restart: stopped short of the line."""
    from tests.fleet.dispatch.test_cleared import _at_its_gate
    from tests.fleet.dispatch.test_loop import make_fleet_again

    fleet, order, _ = _at_its_gate(customs, corridor, "VN-100000000916")
    fleet = make_fleet_again(fleet)
    fleet.run(2)
    track = fleet.dispatcher.tracks["agv_001"]
    assert track.plan is not None and track.record.in_service
    gate = track.plan.steps[0].node
    over = nx.shortest_path(corridor.graph, gate, docks(corridor, "CN")[0])[1:]
    claimed = tuple(OrderNode(node, track.seq0 - 2 * (len(over) - i), True, corridor.nodes[node].x,
                              corridor.nodes[node].y) for i, node in enumerate(over))
    _forged(fleet, lambda nodes: claimed + nodes)
    y = _driven_over_the_deck(fleet)  # it drives on over the deck
    assert y <= 2, y
    assert not [r for r in fleet.store.audit_records() if r.kind == "crossing"]
    assert fleet.state_of(order) == OrderState.AWAITING_CLEARANCE
