"""A VDA 5050 vehicle over MQTT (a real mosquitto) driven through the fleet's MqttVehicleLink; every message on the
broker is checked against the official VDA 5050 2.1 schemas (conftest's recorder)."""

from __future__ import annotations

import subprocess

import pytest
from agv_agent.protocol import Action, ActionParameter, ActionType, Order, OrderNode

from sim.ros_fleet import VehicleSpec, spawn_mqtt_vehicle
from tests.ros.test_ros_vehicles import line

pytestmark = pytest.mark.slow


@pytest.fixture
def mqtt_vehicles(broker):
    started: list[subprocess.Popen] = []

    def start(*specs: VehicleSpec) -> list[subprocess.Popen]:
        processes = [spawn_mqtt_vehicle(s, broker.port) for s in specs]
        started.extend(processes)
        return processes

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        process.wait(timeout=15)


def test_an_mqtt_vehicle_takes_orders_and_actions_and_every_message_fits_the_schemas(recorder, mqtt_link,
                                                                                     mqtt_vehicles):
    v = "agv_mqtt"
    mqtt_vehicles(VehicleSpec(v, 0.0, 0.0, 0.0, f"{v}_n0"))
    assert mqtt_link.wait_for(lambda: mqtt_link.state(v) is not None and mqtt_link.connection(v) == "ONLINE", 30)
    assert mqtt_link.wait_for(lambda: mqtt_link.factsheet(v) is not None, 10)
    assert mqtt_link.factsheet(v).speed_max == pytest.approx(6.94) and "pick" in mqtt_link.factsheet(v).actions
    base = line(v, released=3, length=15.0)
    pick = Action("pick1", ActionType.PICK, parameters=(ActionParameter("loadId", "MSKU1234565"),
                                                        ActionParameter("duration", 1.0)))
    nodes = (base.nodes[0], OrderNode(base.nodes[1].node_id, 2, True, 15.0, 0.0, actions=(pick,)), *base.nodes[2:])
    mqtt_link.send_order(v, Order(base.order_id, 0, nodes, base.edges))
    assert mqtt_link.wait_for(lambda: mqtt_link.state(v).last_node_id == f"{v}_n2" and not mqtt_link.state(v).driving,
                              60)
    state = mqtt_link.state(v)
    assert [load.load_id for load in state.loads] == ["MSKU1234565"] and state.new_base_request
    mqtt_link.send_order(v, line(v, released=3, update=1, start=2, length=15.0))
    assert mqtt_link.wait_for(lambda: mqtt_link.state(v).last_node_id == f"{v}_n3" and not mqtt_link.state(v).driving,
                              40)
    mqtt_link.send_actions(v, [Action("c0", ActionType.CANCEL_ORDER), Action("u1", "doABarrelRoll"),
                               Action("f1", ActionType.FACTSHEET_REQUEST), Action("s1", ActionType.STATE_REQUEST)])
    assert mqtt_link.wait_for(
        lambda: {"c0", "u1", "f1", "s1"} <= {a.action_id for a in mqtt_link.state(v).action_states}, 10)
    errors = {e.error_type for e in mqtt_link.state(v).errors}
    assert {"noOrderToCancel", "unsupportedActionType"} <= errors
    # the recorder is a client of its own: the broker may deliver to it after the vehicle has answered (CI, load 20)
    assert mqtt_link.wait_for(lambda: {"order", "instantActions", "state", "connection", "factsheet"}
                              <= recorder.topics(), 10), recorder.topics()
    assert mqtt_link.trouble() is None


def test_clean_exit_says_offline_and_a_killed_mqtt_vehicle_is_connection_broken(recorder, mqtt_link, mqtt_vehicles):
    polite, killed = mqtt_vehicles(VehicleSpec("agv_mqtt_leaving", 0.0, 10.0),
                                   VehicleSpec("agv_mqtt_killed", 0.0, 20.0))
    assert mqtt_link.wait_for(lambda: mqtt_link.connection("agv_mqtt_leaving") == "ONLINE"
                              and mqtt_link.connection("agv_mqtt_killed") == "ONLINE", 30)
    polite.terminate()
    killed.kill()  # the broker publishes its last will once its keep-alive (5 s) runs out
    assert mqtt_link.wait_for(lambda: mqtt_link.connection("agv_mqtt_leaving") == "OFFLINE", 15)
    assert mqtt_link.wait_for(lambda: mqtt_link.connection("agv_mqtt_killed") == "CONNECTIONBROKEN", 20)


def test_xborder_agents_mqtt_starts_its_broker_and_vehicles_at_parking_spots(bac_luan_ii_dir, bac_luan_ii):
    import re
    import sys
    from pathlib import Path

    from fleet.vehicles.mqtt_link import MqttVehicleLink
    from sim.ros_fleet import parking_spots

    process = subprocess.Popen([str(Path(sys.executable).with_name("xborder")), "agents", "--count", "2", "--mqtt",
                                "--map", str(bac_luan_ii_dir)], stdout=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        port = int(re.search(r"MQTT 127\.0\.0\.1:(\d+)", banner).group(1))
        link = MqttVehicleLink(port=port)
        try:
            spots = {s.vehicle_id: s for s in parking_spots(bac_luan_ii, 2)}
            # a vehicle reports before its base's first odometry too (position_initialized false, pose 0, 0)
            assert link.wait_for(lambda: all(link.state(v) is not None and link.state(v).position_initialized
                                             for v in spots), 30)
            for vehicle, spec in spots.items():
                state = link.state(vehicle)
                assert state.last_node_id == spec.node_id and abs(state.pose.x - spec.x) < 0.01
            process.terminate()
            assert process.wait(timeout=30) == 0
            assert all(link.connection(v) == "OFFLINE" for v in spots)  # said before the broker went away
        finally:
            link.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
