"""The fleet manager drives a ROS 2 vehicle (DDS) and a VDA 5050 vehicle (MQTT, a real mosquitto) side by side:
the real dispatch loop, store, orders and customs gate, on the real clock, through one RoutedLink."""

from __future__ import annotations

import threading
import time

import pytest
from agv_agent.protocol import EStop

from fleet.alarms import AlarmKind, AlarmService
from fleet.dispatch import Dispatcher, DispatchSettings
from fleet.events import EventBus
from fleet.maps import load_corridor
from fleet.orders import OrderCreate, OrderService, OrderState
from fleet.staff import StaffLog
from fleet.store import Store
from fleet.vehicles.mqtt_link import MqttVehicleLink
from fleet.vehicles.registry import VehicleConfig, VehicleRegistry
from fleet.vehicles.routed import RoutedLink
from sim.ros_fleet import VehicleSpec, spawn_mqtt_vehicle
from tests.fleet.conftest import T0, customs, key_dir  # noqa: F401 (fixtures)
from tests.mqtt.conftest import Recorder, broker  # noqa: F401 (fixture)

pytestmark = [pytest.mark.ros, pytest.mark.slow]
MAP = "maps/bac_luan_ii"
PICKED = {OrderState.LOADED, OrderState.AWAITING_CLEARANCE, OrderState.CLEARED, OrderState.CROSSING,
          OrderState.TO_DROP, OrderState.DELIVERED}


@pytest.mark.parametrize("delivering", ["mqtt", "ros"])
def test_one_dispatch_loop_drives_a_ros_vehicle_and_an_mqtt_vehicle(customs, broker, bridge, vehicles,  # noqa: F811
                                                                    delivering):
    """Both stand at docks; the order waits at the deliverer's dock. The loop gives it the order (a VDA 5050
    pick at the dock: it leaves loaded) and sends the other one to park: both drive on the fleet's orders."""
    corridor = load_corridor(MAP)
    # vehicle ids of each case's own: the bridge outlives a case, and the second case read the first one's last
    # state of its ROS vehicle (driving to park on an order of that case's loop) until the new process's came,
    # so that its loop gave the order to the MQTT vehicle, which then stood for good before the dock held
    ros, mqtt = f"agv_ros_{delivering}", f"agv_mqtt_{delivering}"
    docks = {ros: "vn_dock_1", mqtt: "vn_dock_2"}
    deliverer = ros if delivering == "ros" else mqtt
    other = next(v for v in docks if v != deliverer)
    specs = {v: VehicleSpec(v, corridor.nodes[d].x, corridor.nodes[d].y, corridor.heading_into(d), d)
             for v, d in docks.items()}
    recorder = Recorder(broker.port)
    mqtt_process = spawn_mqtt_vehicle(specs[mqtt], broker.port)
    mqtt_link = MqttVehicleLink(port=broker.port)
    stop_clock = threading.Event()
    dispatcher = None
    try:
        vehicles(specs[ros])
        assert mqtt_link.wait_for(lambda: mqtt_link.state(mqtt) is not None, 30)
        _run_in_real_time(customs, stop_clock)
        store = Store(customs.db_path)
        orders = OrderService(store, corridor, EventBus(), customs.clock)
        created = orders.create(OrderCreate(consignments=["VN-100000000001"], pickup=docks[deliverer],
                                            drop="cn_dock_1"), "test")[0].id  # waiting when the loop starts
        link = RoutedLink([bridge, mqtt_link])
        dispatcher = _started_loop(customs, corridor, orders, link, docks)
        assert bridge.wait_for(lambda: orders.get(created).state in PICKED, 90), orders.get(created)
        assert orders.get(created).vehicle_id == deliverer
        # it picked its container up through its own link, as a VDA 5050 pick action with a load
        assert bridge.wait_for(lambda: (s := link.state(deliverer)).loads != () and any(
            a.action_type == "pick" and a.status == "FINISHED" for a in s.action_states), 15), \
            (link.state(deliverer).action_states, link.state(deliverer).loads)
        start_node = corridor.nodes[docks[other]]
        assert bridge.wait_for(lambda: (s := link.state(other)).order_id == dispatcher.tracks[other].vda_order_id
                               and ((s.pose.x - start_node.x) ** 2 + (s.pose.y - start_node.y) ** 2) ** 0.5 > 10, 60)
        assert link.link_of(ros) is bridge and link.link_of(mqtt) is mqtt_link
        assert any(topic.endswith(f"{mqtt}/order") for topic, _ in recorder.messages)
        assert recorder.invalid == []
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        stop_clock.set()
        mqtt_link.close()
        recorder.close()
        mqtt_process.terminate()
        mqtt_process.wait(timeout=15)


def test_one_id_heard_on_both_links_is_two_machines_both_stopped(customs, broker, bridge, vehicles):  # noqa: F811
    """A vehicle id heard on the ROS 2 link and on the MQTT link at once (a vendor's AGV given one of our ids, a
    client on the broker using it): two machines. Found by trying it: the routed link read the link it heard the id
    on first and never looked at the other, so nothing was said, the second machine went unseen, and an emergency
    stop reached one of the two. Now, as two sources on one link (``HeaderWatch``): out of service with a
    ``duplicate_vehicle_id`` alarm, and the stop sent on both links."""
    corridor = load_corridor(MAP)
    vehicle, spots = "agv_twice", ("vn_parking_1", "vn_parking_2")
    ros, other = (VehicleSpec(vehicle, corridor.nodes[s].x, corridor.nodes[s].y, corridor.heading_into(s), s)
                  for s in spots)
    mqtt_process = spawn_mqtt_vehicle(other, broker.port)
    mqtt_link = MqttVehicleLink(port=broker.port)
    stop_clock = threading.Event()
    dispatcher = None
    try:
        vehicles(ros)
        assert mqtt_link.wait_for(lambda: mqtt_link.state(vehicle) is not None, 30)
        _run_in_real_time(customs, stop_clock)
        store = Store(customs.db_path)
        link = RoutedLink([bridge, mqtt_link])
        dispatcher = _started_loop(customs, corridor, OrderService(store, corridor, EventBus(), customs.clock), link,
                                   {vehicle: spots[0]})

        def stopped(state) -> bool:
            return state is not None and state.e_stop != EStop.NONE

        assert bridge.wait_for(lambda: dispatcher.alarms.is_open(AlarmKind.DUPLICATE_VEHICLE_ID, vehicle), 20), \
            dispatcher.alarms.list()[0]
        [alarm] = [a for a in dispatcher.alarms.list(open_only=True)[0] if a.kind == AlarmKind.DUPLICATE_VEHICLE_ID]
        assert "ROS 2" in alarm.message and "MQTT" in alarm.message, alarm.message
        assert not dispatcher.tracks[vehicle].record.in_service
        assert bridge.wait_for(lambda: stopped(bridge.state(vehicle)) and stopped(mqtt_link.state(vehicle)), 20), \
            (bridge.state(vehicle), mqtt_link.state(vehicle))
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        stop_clock.set()
        mqtt_link.close()
        mqtt_process.terminate()
        mqtt_process.wait(timeout=15)


def _run_in_real_time(customs, stop: threading.Event) -> None:  # noqa: F811
    """The fixtures' settable clock, run in real time from now until ``stop`` is set."""
    start = time.monotonic()

    def real_time() -> None:
        while not stop.wait(0.05):
            customs.clock.now = T0 + time.monotonic() - start

    threading.Thread(target=real_time, daemon=True).start()


def _started_loop(customs, corridor, orders: OrderService, link: RoutedLink,  # noqa: F811
                  fleet: dict[str, str]) -> Dispatcher:
    """The real dispatch loop over ``link``, started, with ``fleet`` (vehicle -> start node) configured on the
    VN side and authorized by both customs."""
    store, bus = orders.store, orders.bus
    registry = VehicleRegistry(store)
    registry.configure(VehicleConfig(id=v, home="VN", start_node=n) for v, n in fleet.items())
    dispatcher = Dispatcher(corridor=corridor, store=store, orders=orders, registry=registry,
                            gate=customs.gate_on(store, bus), link=link,
                            alarms=AlarmService(store, bus, customs.clock), bus=bus,
                            staff=StaffLog(store, customs.clock), clock=customs.clock,
                            settings=DispatchSettings(load_s=3, unload_s=3, assign_time_limit_s=2.0))
    for vehicle in fleet:
        for signer in (customs.vn, customs.cn):
            ack = dispatcher.gate.ingest(signer.event("vehicle.authorized", vehicle_id=vehicle), "test")
            assert ack.acknowledged, ack
    dispatcher.start()
    return dispatcher
