"""VDA 5050 2.1 semantics over real DDS (issue #15): agv_vehicle processes against the fleet's bridge."""

from __future__ import annotations

import time

import pytest
from agv_agent.protocol import Action, ActionParameter, ActionType, Order, OrderEdge, OrderNode

from sim.ros_fleet import spawn_vehicle
from tests.ros.test_ros_vehicles import line, spec, stopped_at

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_a_state_is_filed_under_its_topic_whatever_serial_number_it_carries(bridge):
    """Finding 1, already fixed before this issue (the bridge files by topic); here with the VDA header."""
    import rclpy
    from agv_agent import convert, qos
    from agv_agent.logic import AgentLogic, AgentParams
    from agv_interfaces.msg import AgvState
    from rclpy.context import Context

    vehicle = "agv_vendor"
    bridge.add_vehicle(vehicle)
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("vendor_vehicle", context=context)
    try:
        publisher = node.create_publisher(AgvState, f"/xborder/{vehicle}/state", qos.STATE)
        state = AgentLogic(AgentParams("SN-4711", manufacturer="Westwell"), 0.0).state(time.time())
        deadline = time.monotonic() + 20
        while bridge.state(vehicle) is None and time.monotonic() < deadline:
            publisher.publish(convert.state_to_msg(state, header_id=7))
            time.sleep(0.2)
        got = bridge.state(vehicle)
        assert got is not None and got.vehicle_id == "SN-4711"
        assert (got.header.manufacturer, got.header.version, got.header.header_id) == ("Westwell", "2.1.0", 7)
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_the_executor_walks_one_event_handler_per_vehicle(bridge):
    """rclpy's default QoS event handlers (two per publisher and subscription, twelve a vehicle) were walked in
    Python on every wait of the bridge's executor: with 200 vehicles' states at 2 Hz that walk held 60 % of a
    core with the fleet idle (bench_fleet's setup, py-spy). Only the connection's liveliness is listened to."""
    before = len(list(bridge._node.waitables))
    for k in range(5):
        bridge.add_vehicle(f"agv_walk_{k}")
    assert len(list(bridge._node.waitables)) - before == 5


def test_a_failing_state_callback_is_surfaced_and_the_bridge_keeps_working(vehicles):
    """Finding 9: the spin loop surviving a callback exception was fixed before; ``trouble()`` now says so."""
    from fleet.vehicles.ros_bridge import RosFleetBridge

    calls = []

    def explode(vehicle_id: str) -> None:
        calls.append(vehicle_id)
        raise RuntimeError("a bug in the fleet's state handler")

    failing = RosFleetBridge(node_name="failing_bridge", on_state=explode)
    try:
        v = "agv_failing"
        assert failing.trouble() is None
        vehicles(spec(v, y=200))
        failing.add_vehicle(v)
        # counted once each exception has come out of the executor's spin (it may log it first)
        assert failing.wait_for(lambda: failing.failures.count >= 3, 20), \
            "the spin thread died after the first exception"
        assert "callback failed" in (failing.trouble() or "") and len(calls) >= 3
        snapshot = failing.snapshot(v)
        assert snapshot.state is not None and snapshot.connection == "ONLINE" and snapshot.age_s < 5
    finally:
        failing.close()


def test_headers_count_up_and_the_factsheet_tells_the_vehicles_capabilities(bridge, vehicles):
    v = "agv_headers"
    vehicles(spec(v, y=210))
    first = bridge.state(v).header.header_id
    assert bridge.wait_for(lambda: bridge.state(v).header.header_id >= first + 2, 10)
    state = bridge.state(v)
    assert state.header.version == "2.1.0" and state.header.manufacturer == "xborder"
    assert state.operating_mode == "AUTOMATIC" and state.position_initialized and state.map_id == "corridor"
    assert state.battery_reach > 10_000
    assert bridge.wait_for(lambda: bridge.factsheet(v) is not None, 10)
    factsheet = bridge.factsheet(v)
    assert factsheet.serial_number == v and factsheet.speed_max == pytest.approx(6.94)
    assert {"pick", "drop", "startCharging", "cancelOrder"} <= set(factsheet.actions)


def test_a_restarted_vehicle_is_not_handed_its_old_order_again(bridge, vehicles):
    """Finding 6: the order topic was transient-local, so a restarted agent drove its last (cancelled) order."""
    v = "agv_restart"
    process, = vehicles(spec(v, y=220))
    bridge.send_order(v, line(v, released=4, y=220))
    assert bridge.wait_for(lambda: bridge.state(v).pose.x > 2, 30)
    bridge.send_actions(v, [Action("c1", ActionType.CANCEL_ORDER)])
    assert bridge.wait_for(lambda: not bridge.state(v).driving, 20)
    process.terminate()
    process.wait(timeout=15)
    restarted = spawn_vehicle(spec(v, y=220))  # its base starts again at the order's first node
    try:
        assert bridge.wait_for(lambda: bridge.state(v) is not None and bridge.state(v).pose.x < 1.0
                               and bridge.state(v).order_id == "", 60)
        assert not bridge.wait_for(lambda: bridge.state(v).pose.x > 1.0 or bridge.state(v).order_id != "", 5)
        assert bridge.snapshot(v).duplicate is None  # its header ids went back once: one vehicle, restarted
    finally:
        restarted.terminate()
        restarted.wait(timeout=15)


def test_cancel_runs_until_standstill_and_without_an_order_fails(bridge, vehicles):
    """Finding 4 over DDS: cancel was FINISHED at once while the vehicle still moved."""
    v = "agv_cancel"
    vehicles(spec(v, y=230))
    bridge.send_actions(v, [Action("c0", ActionType.CANCEL_ORDER)])
    assert bridge.wait_for(lambda: any(e.error_type == "noOrderToCancel" for e in bridge.state(v).errors), 10)
    bridge.send_order(v, line(v, released=4, length=40.0, y=230))
    assert bridge.wait_for(lambda: bridge.state(v).velocity[0] > 3.0, 40)
    bridge.send_actions(v, [Action("c1", ActionType.CANCEL_ORDER)])
    seen = set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "FINISHED" not in seen:
        state = bridge.state(v)
        status = {a.action_id: a.status for a in state.action_states}.get("c1")
        if status is not None:
            seen.add(status)
            if status == "RUNNING":
                assert state.driving or abs(state.velocity[0]) > 0.0
            if status == "FINISHED":
                assert not state.driving
        time.sleep(0.02)
    assert seen == {"RUNNING", "FINISHED"}, seen


def test_pick_at_a_node_stops_the_vehicle_and_loads_it(bridge, vehicles):
    """Finding 3 over DDS: pick and drop were accepted, ignored and driven through at full speed."""
    v = "agv_pick"
    vehicles(spec(v, y=240))
    base = line(v, released=3, length=20.0, y=240)
    pick = Action("pick1", ActionType.PICK, parameters=(ActionParameter("loadId", "TGHU8889990"),
                                                        ActionParameter("duration", 3.0)))
    nodes = (base.nodes[0], OrderNode(base.nodes[1].node_id, 2, True, 20.0, 240.0, actions=(pick,)),
             base.nodes[2])
    bridge.send_order(v, Order(base.order_id, 0, nodes, base.edges[:2]))
    assert bridge.wait_for(lambda: {a.action_id: a.status for a in bridge.state(v).action_states}.get("pick1")
                           == "RUNNING", 40)
    # the pick starts on arrival, within the arrival tolerance (0.3 m), the vehicle braking to its stop at the node:
    # about 0.6 m/s there on the planned braking curve (CI saw 0.5006 m/s against the 0.5 once asserted), far
    # below the 6.94 m/s it drove through at (finding 3); then it stands still at the node while it loads
    assert bridge.state(v).pose.x <= 20.5 and abs(bridge.state(v).velocity[0]) < 1.0
    assert bridge.wait_for(lambda: abs(bridge.state(v).velocity[0]) < 0.05, 10)
    assert abs(bridge.state(v).pose.x - 20.0) <= 0.3
    assert bridge.wait_for(lambda: [load.load_id for load in bridge.state(v).loads] == ["TGHU8889990"], 15)
    assert bridge.wait_for(stopped_at(bridge, v, f"{v}_n2"), 40)


def test_a_vehicle_in_manual_mode_refuses_orders_with_a_reference_to_them(bridge, vehicles):
    v = "agv_manual"
    vehicles(spec(v, y=250), operating_mode="MANUAL")
    bridge.send_order(v, line(v, released=2, y=250))
    assert bridge.wait_for(lambda: bool(bridge.state(v).errors), 10)
    error = bridge.state(v).errors[0]
    assert error.error_type == "notInAutomaticMode" and bridge.state(v).operating_mode == "MANUAL"
    assert {(r.key, r.value) for r in error.references} >= {("orderId", f"{v}_order"), ("orderUpdateId", "0")}
    assert not bridge.wait_for(lambda: bridge.state(v).pose.x > 0.2, 2)


def test_node_heading_is_reached_where_the_vehicle_stops(bridge, vehicles):
    v = "agv_heading"
    vehicles(spec(v, y=260))
    nodes = (OrderNode(f"{v}_n0", 0, True, 0.0, 260.0), OrderNode(f"{v}_n1", 2, True, 15.0, 260.0, theta=1.2))
    bridge.send_order(v, Order(f"{v}_order", 0, nodes, (OrderEdge("e", 1, True, nodes[0].node_id, nodes[1].node_id),)))
    assert bridge.wait_for(lambda: (s := bridge.state(v)).last_node_id == f"{v}_n1" and not s.driving
                           and abs(s.pose.theta - 1.2) < 0.1, 40)
