"""The border watch over a real link: a vehicle on a real mosquitto that reports where it is (VDA 5050 ``state``),
as a faulty or hostile vehicle would, and the fleet's real dispatch loop, store and customs gate judging it. What
the vehicle is sent back (``instantActions``) is read off the broker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import pytest
from agv_agent import vda_json
from agv_agent.protocol import ConnectionState, Factsheet, Header, Pose, VehicleState

from fleet.alarms import AlarmKind, AlarmService
from fleet.dispatch import Dispatcher, DispatchSettings
from fleet.events import EventBus
from fleet.maps import load_corridor
from fleet.orders import OrderCreate, OrderService, OrderState
from fleet.staff import StaffLog
from fleet.store import Store
from fleet.vehicles.link import wait_for
from fleet.vehicles.mqtt_link import MqttVehicleLink
from fleet.vehicles.registry import VehicleConfig, VehicleRegistry
from planner.corridor import NodeKind
from tests.fleet.conftest import customs, key_dir  # noqa: F401 (fixtures)

MAP = "maps/bac_luan_ii"
MAKER = "acme"


@dataclass
class ForgedVehicle:
    """A vehicle that is only what it says on the broker: states as it likes, the instant actions it was sent."""

    client: mqtt.Client
    serial: str
    header_id: int = 0
    actions: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def topic(self, name: str) -> str:
        return f"uagv/v2/{MAKER}/{self.serial}/{name}"

    def report(self, x: float, y: float, map_id: str = "corridor", last_node: str = "vn_parking_1",
               localised: bool = True, driving: bool = False) -> None:
        self.header_id += 1
        state = VehicleState(self.serial, "", 0, last_node, 0, (), (), Pose(x, y, 0.0), (0.0, 0.0), driving, False,
                             False, 90.0, False, stamp=time.time(), map_id=map_id, position_initialized=localised,
                             header=Header(manufacturer=MAKER, serial_number=self.serial))
        self.client.publish(self.topic("state"), json.dumps(vda_json.state_json(state, self.header_id)),
                            qos=1).wait_for_publish(5)

    def online(self) -> None:
        payload = vda_json.connection_json(ConnectionState.ONLINE, 1, MAKER, self.serial, time.time())
        self.client.publish(self.topic("connection"), json.dumps(payload), qos=1).wait_for_publish(5)

    def emergency_stops(self) -> int:
        with self.lock:
            return sum(a["actionType"] == "emergencyStop" for a in self.actions)


@pytest.fixture
def fleet_and_vehicle(customs, broker) -> Iterator[tuple[Dispatcher, ForgedVehicle]]:  # noqa: F811
    corridor = load_corridor(MAP)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    vehicle = ForgedVehicle(client, "rogue")

    def on_message(_client, _userdata, message) -> None:
        with vehicle.lock:
            vehicle.actions.extend(json.loads(message.payload)["actions"])

    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.subscribe(vehicle.topic("instantActions"), qos=1)
    client.loop_start()
    link = MqttVehicleLink(port=broker.port)
    store, bus = Store(customs.db_path), EventBus()
    registry = VehicleRegistry(store)
    registry.configure([VehicleConfig(id="rogue", home="VN", start_node="vn_parking_1")])
    dispatcher = Dispatcher(corridor=corridor, store=store, orders=OrderService(store, corridor, bus, customs.clock),
                            registry=registry, gate=customs.gate_on(store, bus), link=link,
                            alarms=AlarmService(store, bus, customs.clock), bus=bus,
                            staff=StaffLog(store, customs.clock), clock=customs.clock, settings=DispatchSettings())
    try:
        parking = corridor.nodes["vn_parking_1"]
        vehicle.online()
        vehicle.report(parking.x, parking.y)
        assert link.wait_for(lambda: link.state("rogue") is not None, 10)
        tick(dispatcher, customs)
        assert dispatcher.tracks["rogue"].border.side == "VN"
        yield dispatcher, vehicle
    finally:
        link.close()
        client.loop_stop()
        client.disconnect()


def tick(dispatcher: Dispatcher, customs) -> None:  # noqa: F811
    customs.clock.now += 0.5
    dispatcher.tick()


def moved_to(dispatcher: Dispatcher, customs, vehicle: ForgedVehicle, x: float, y: float,  # noqa: F811
             **report) -> None:
    """The vehicle reports (x, y); ticks until the fleet has read that state."""
    vehicle.report(x, y, **report)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        tick(dispatcher, customs)
        state = dispatcher.tracks["rogue"].state
        if state is not None and state.header.header_id == vehicle.header_id:
            return
        time.sleep(0.05)
    raise AssertionError(f"the fleet never read the report at ({x}, {y})")


def alarm_kinds(dispatcher: Dispatcher) -> list[AlarmKind]:
    return [a.kind for a in dispatcher.alarms.list(open_only=True)[0] if a.subject == "rogue"]


def stopped(vehicle: ForgedVehicle) -> bool:
    return wait(lambda: vehicle.emergency_stops() > 0)


def wait(predicate, timeout_s: float = 5.0) -> bool:
    return wait_for(predicate, timeout_s)


@pytest.mark.parametrize(("x", "y"), [(9.0, 300.0), (60.0, 300.0)], ids=["onto-the-cn-deck", "beside-the-cn-deck"])
def test_a_vehicle_that_jumps_across_between_two_reports_is_stopped(customs, fleet_and_vehicle, x, y):  # noqa: F811
    dispatcher, vehicle = fleet_and_vehicle
    moved_to(dispatcher, customs, vehicle, x, y)
    assert AlarmKind.UNRELEASED_CROSSING in alarm_kinds(dispatcher)
    assert stopped(vehicle)
    assert not dispatcher.tracks["rogue"].record.in_service


def test_a_vehicle_reporting_far_off_the_map_is_stopped(customs, fleet_and_vehicle):  # noqa: F811
    dispatcher, vehicle = fleet_and_vehicle
    moved_to(dispatcher, customs, vehicle, 60.0, -1000.0)
    assert alarm_kinds(dispatcher) == [AlarmKind.VEHICLE_OFF_THE_MAP]
    assert stopped(vehicle)


def test_a_vehicle_reporting_its_position_on_another_map_is_stopped(customs, fleet_and_vehicle):  # noqa: F811
    """Found by trying it: a position on another ``mapId`` (another corridor's, a vendor's own name) was not judged
    at all, so a vehicle saying so drove over the line unseen. The fleet cannot place it: off the map."""
    dispatcher, vehicle = fleet_and_vehicle
    moved_to(dispatcher, customs, vehicle, 9.0, 300.0, map_id="kim_thanh")
    assert alarm_kinds(dispatcher) == [AlarmKind.VEHICLE_OFF_THE_MAP]
    assert stopped(vehicle)
    assert not dispatcher.tracks["rogue"].record.in_service


def test_a_vehicle_that_keeps_driving_after_its_stop_is_judged_again(customs, fleet_and_vehicle):  # noqa: F811
    """Stopped off the map on its own side, it takes no notice and drives on, over the line: that crossing is
    flagged and recorded for both customs too."""
    dispatcher, vehicle = fleet_and_vehicle
    moved_to(dispatcher, customs, vehicle, 60.0, 100.0)
    assert alarm_kinds(dispatcher) == [AlarmKind.VEHICLE_OFF_THE_MAP] and stopped(vehicle)
    moved_to(dispatcher, customs, vehicle, 60.0, 200.0)
    assert AlarmKind.UNRELEASED_CROSSING in alarm_kinds(dispatcher)


def test_a_vehicle_that_drives_on_over_its_own_deck_is_stopped_short_of_the_line(customs, fleet_and_vehicle):  # noqa: F811
    """Found by trying it: a vehicle that drives past its released base (its parking spot) onto the deck towards
    the line was judged only once on the line, a report too late to stop short of it. By the line (on the deck),
    nearer it than its base goes, it is stopped: ``vehicle_past_its_base``, out of service."""
    dispatcher, vehicle = fleet_and_vehicle
    moved_to(dispatcher, customs, vehicle, 9.0, -50.0)  # on the approach road: off its way, not by the line yet
    assert alarm_kinds(dispatcher) == [AlarmKind.VEHICLE_OFF_ITS_WAY] and vehicle.emergency_stops() == 0
    moved_to(dispatcher, customs, vehicle, 9.0, 2.0)  # on the deck, 152 m short of the line
    assert AlarmKind.VEHICLE_PAST_ITS_BASE in alarm_kinds(dispatcher)
    assert AlarmKind.UNRELEASED_CROSSING not in alarm_kinds(dispatcher)
    assert stopped(vehicle)
    assert not dispatcher.tracks["rogue"].record.in_service


def test_a_vehicle_driving_by_the_line_without_knowing_where_it_is_is_stopped(customs, fleet_and_vehicle):  # noqa: F811
    """Found by trying it: a vehicle reporting ``positionInitialized`` false was not judged at all, wherever it
    drove. Driving, last seen on the deck, it may be anywhere up to the line and over it: off the map."""
    dispatcher, vehicle = fleet_and_vehicle
    moved_to(dispatcher, customs, vehicle, 9.0, 129.5, last_node="vn_deck_out_1")  # at the last node before it
    assert alarm_kinds(dispatcher) == []
    moved_to(dispatcher, customs, vehicle, 0.0, 0.0, last_node="vn_deck_out_1", localised=False, driving=True)
    assert alarm_kinds(dispatcher) == [AlarmKind.VEHICLE_OFF_THE_MAP]
    assert stopped(vehicle)
    assert not dispatcher.tracks["rogue"].record.in_service


def a_factsheet(serial: str) -> dict:
    return vda_json.factsheet_json(Factsheet(serial, MAKER, "X1", 6.94, 0.5, 1.0, 15.0, 3.0, 3.0, 40000.0,
                                             ("pick", "drop")), 1, time.time())


def test_a_vehicle_that_does_not_know_where_it_is_is_given_no_order(customs, fleet_and_vehicle):  # noqa: F811
    """Found by trying it: a vehicle reporting ``positionInitialized`` false (standing, far from the line) was
    given the next order as any other, the fleet planning it from a node it could not vouch it stood at. It is
    given none until it knows, and an alarm says so once it has lasted ``silent_after_s``; no emergency stop."""
    dispatcher, vehicle = fleet_and_vehicle
    vehicle.client.publish(vehicle.topic("factsheet"), json.dumps(a_factsheet("rogue")), qos=1).wait_for_publish(5)
    for signer in (customs.vn, customs.cn):
        assert dispatcher.gate.ingest(signer.event("vehicle.authorized", vehicle_id="rogue"), "test").acknowledged
    parking = dispatcher.corridor.nodes["vn_parking_1"]
    moved_to(dispatcher, customs, vehicle, parking.x, parking.y, localised=False)
    vn, cn = (sorted(n.id for n in dispatcher.corridor.nodes_of(NodeKind.DOCK, jurisdiction=side))
              for side in ("VN", "CN"))
    order, _ = dispatcher.orders.create(OrderCreate(consignments=["VN-100000000941"], pickup=vn[0], drop=cn[0]),
                                        "test")
    for _ in range(60):  # 30 s of the loop's clock
        tick(dispatcher, customs)
    assert dispatcher.orders.get(order.id).state == OrderState.CREATED
    assert alarm_kinds(dispatcher) == [AlarmKind.VEHICLE_NOT_LOCALISED]
    assert vehicle.emergency_stops() == 0 and dispatcher.tracks["rogue"].record.in_service
    moved_to(dispatcher, customs, vehicle, parking.x, parking.y)  # it knows again
    for _ in range(20):
        tick(dispatcher, customs)
    assert dispatcher.orders.get(order.id).state != OrderState.CREATED


def test_a_vehicle_starting_up_is_not_alarmed_nor_stopped(customs, fleet_and_vehicle):  # noqa: F811
    """Our own agent sends one state before its first odometry (``positionInitialized`` false, standing): that
    raises nothing and stops nothing."""
    dispatcher, vehicle = fleet_and_vehicle
    parking = dispatcher.corridor.nodes["vn_parking_1"]
    moved_to(dispatcher, customs, vehicle, 0.0, 0.0, localised=False)
    moved_to(dispatcher, customs, vehicle, parking.x, parking.y)
    for _ in range(30):
        tick(dispatcher, customs)
    assert alarm_kinds(dispatcher) == [] and vehicle.emergency_stops() == 0
    assert dispatcher.tracks["rogue"].unavailable is None and dispatcher.tracks["rogue"].record.in_service
