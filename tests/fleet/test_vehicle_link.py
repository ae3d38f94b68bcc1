"""The link helpers every VehicleLink shares: order status by reference, resend of unacknowledged instant actions,
two sources told by their states' headerIds, and the VDA 5050 JSON codec's round trip (the schema checks are in
tests/mqtt, over a real broker)."""

from __future__ import annotations

import time

import pytest
from agv_agent import vda_json
from agv_agent.logic import AgentLogic, AgentParams
from agv_agent.protocol import (
    Action,
    ActionParameter,
    ActionType,
    AgvError,
    ErrorLevel,
    ErrorReference,
    Order,
    OrderEdge,
    OrderNode,
)

from fleet.vehicles.link import HeaderWatch, OrderStatus, PendingActions, order_status


def _state(order_id: str = "", update: int = 0, errors: tuple[AgvError, ...] = ()):
    agent = AgentLogic(AgentParams("agv_001"), 0.0)
    agent.order_id, agent.order_update_id, agent.errors = order_id, update, list(errors)
    return agent.state(0.0)


def test_order_status_is_read_by_reference():
    refused = AgvError("orderError", ErrorLevel.WARNING, "busy", (ErrorReference("orderId", "o2"),
                                                                  ErrorReference("orderUpdateId", "0")))
    assert order_status(None, "o1", 0) == (OrderStatus.PENDING, None)
    assert order_status(_state("o1", 2), "o1", 1)[0] == OrderStatus.ACCEPTED
    assert order_status(_state("o1", 0), "o1", 1)[0] == OrderStatus.PENDING
    assert order_status(_state("o1", 0, (refused,)), "o2", 0) == (OrderStatus.REFUSED, refused)
    assert order_status(_state("o1", 0, (refused,)), "o2", 1)[0] == OrderStatus.PENDING


def test_unacknowledged_instant_actions_are_resent_until_acknowledged_or_given_up():
    pending = PendingActions(resend_s=0.01, attempts=3)
    pause, cancel = Action("p1", ActionType.PAUSE), Action("c1", ActionType.CANCEL_ORDER)
    pending.sent("agv_001", [pause, cancel])
    assert pending.due() == {}
    time.sleep(0.02)
    assert pending.due() == {"agv_001": [pause, cancel]}
    pending.acknowledged("agv_001", ["p1"])
    time.sleep(0.02)
    assert pending.due() == {"agv_001": [cancel]}
    time.sleep(0.02)
    assert pending.due() == {}  # third attempt was the last


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _heard(watch: HeaderWatch, clock: _Clock, *header_ids: int, every_s: float = 0.5) -> None:
    """States of ``agv_001`` with these headerIds, ``every_s`` apart (each timestamped when it arrives)."""
    for header_id in header_ids:
        clock.now += every_s
        watch.heard("agv_001", header_id, 1.8e9 + clock.now)


def test_two_sources_interleaving_their_header_ids_are_told_while_they_go_on():
    clock = _Clock()
    watch = HeaderWatch(window_s=30.0, times=3, clock=clock)
    _heard(watch, clock, 500, 501, 40, 502, 41, 503)  # a second vehicle joins, counting from 40: two goings back
    assert watch.duplicate("agv_001") is None
    _heard(watch, clock, 42)
    seen = watch.duplicate("agv_001")
    assert seen is not None and "40 after 501, 41 after 502, 42 after 503" in seen, seen
    assert watch.duplicate("agv_002") is None
    clock.now += 25.0
    assert watch.duplicate("agv_001") is not None
    clock.now += 5.0  # the goings back older than 30 s: the second one is gone
    assert watch.duplicate("agv_001") is None


def test_two_agents_started_together_counting_alike_are_told():
    clock = _Clock()
    watch = HeaderWatch(window_s=30.0, times=3, clock=clock)
    _heard(watch, clock, 0, 0, 1, 1, 2, 2, 3, 3)  # the same headerIds, at other times
    assert watch.duplicate("agv_001") is not None


@pytest.mark.parametrize(("header_ids", "every_s"), [
    ((7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 0.5),  # restarted: from 0 again, once
    ((7, 8, 9, 0, 1, 2, 0, 1, 2, 3), 0.5),  # restarted twice
    ((3, 4, 5, 0, 1, 0, 1, 0, 1), 60.0),  # restarted over and over, a minute apart
    ((0, 0, 0, 0, 0, 0), 0.5),  # firmware that never counts its headerId up: nothing to tell from it
], ids=["restart", "two-restarts", "restarts-a-minute-apart", "no-count"])
def test_one_vehicle_is_not_taken_for_two(header_ids, every_s):
    clock = _Clock()
    watch = HeaderWatch(window_s=30.0, times=3, clock=clock)
    _heard(watch, clock, *header_ids, every_s=every_s)
    assert watch.duplicate("agv_001") is None


def test_the_same_state_again_is_no_second_source():
    clock = _Clock()
    watch = HeaderWatch(window_s=30.0, times=3, clock=clock)
    _heard(watch, clock, 4, 5)
    for _ in range(5):
        watch.heard("agv_001", 5, 1.8e9 + clock.now)  # repeated (a broker delivering it twice, a resend)
    assert watch.duplicate("agv_001") is None


def test_vda_json_round_trip_keeps_what_the_fleet_uses():
    pick = Action("pk", ActionType.PICK, parameters=(ActionParameter("loadId", "MSKU1234565"),
                                                     ActionParameter("duration", 2.5)))
    order = Order("o1", 3, (OrderNode("a", 0, True, 1.0, 2.0), OrderNode("b", 2, False, 5.0, 2.0, theta=1.5,
                                                                         actions=(pick,))),
                  (OrderEdge("e", 1, False, "a", "b", 4.0, length=4.0),))
    back = vda_json.order_from_json(vda_json.order_json(order, 7, "xborder", "agv_001", 1.8e9))
    assert back.nodes == order.nodes and back.edges == order.edges and back.header.header_id == 7
    state = AgentLogic(AgentParams("agv_001", initial_node_id="a"), 0.0).state(1.8e9)
    again = vda_json.state_from_json(vda_json.state_json(state, 4))
    assert again.vehicle_id == "agv_001" and again.header.header_id == 4 and not again.position_initialized
    assert again.stamp == pytest.approx(1.8e9, abs=1e-3) and again.battery_reach == pytest.approx(
        state.battery_reach, abs=1)


def test_unreadable_vda_json_is_a_clear_error():
    with pytest.raises(vda_json.VdaJsonError, match="order"):
        vda_json.order_from_json({"orderId": "o1"})
    with pytest.raises(vda_json.VdaJsonError, match="state"):
        vda_json.state_from_json({"headerId": 1})


def test_an_mqtt_link_without_a_broker_says_so():
    from fleet.vehicles.link import VehicleLinkError
    from fleet.vehicles.mqtt_link import MqttVehicleLink
    from sim.processes import free_port

    port = free_port()
    with pytest.raises(VehicleLinkError, match=f"MQTT broker 127.0.0.1:{port}"):
        MqttVehicleLink(port=port, connect_timeout_s=2)
