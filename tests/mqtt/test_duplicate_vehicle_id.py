"""Two vehicles that report under one serial number (two set up with one id, a vendor's AGV using another's serial,
a forger), on a real mosquitto, with the fleet's real dispatch loop judging them (the fixture of
``test_border_watch_mqtt``). Found by trying it: the fleet read one vehicle whose position jumped between the two
places, and its border watch, standstill and progress logic acted on a mix of two machines' states."""

from __future__ import annotations

import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from fleet.alarms import AlarmKind
from fleet.dispatch import Dispatcher
from tests.fleet.conftest import customs, key_dir  # noqa: F401 (fixtures)
from tests.mqtt.test_border_watch_mqtt import ForgedVehicle, alarm_kinds, fleet_and_vehicle, moved_to  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture
def impostor(broker) -> Iterator[ForgedVehicle]:
    """A second client on the broker that reports as ``rogue`` too, counting its own headerIds."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    yield ForgedVehicle(client, "rogue")
    client.loop_stop()
    client.disconnect()


def _reports_at(dispatcher: Dispatcher, customs, vehicle: ForgedVehicle, node: str) -> None:  # noqa: F811
    """``vehicle`` reports standing at ``node`` (a millisecond after any state before: VDA 5050's timestamps'
    resolution), read by the fleet."""
    time.sleep(0.01)
    spot = dispatcher.corridor.nodes[node]
    moved_to(dispatcher, customs, vehicle, spot.x, spot.y, last_node=node)


def test_two_vehicles_reporting_as_one_are_taken_out_of_dispatch_with_an_alarm(customs, fleet_and_vehicle,  # noqa: F811
                                                                              impostor):
    dispatcher, vehicle = fleet_and_vehicle
    for _ in range(4):  # each reports from its own parking spot, in turn
        _reports_at(dispatcher, customs, vehicle, "vn_parking_1")
        _reports_at(dispatcher, customs, impostor, "vn_parking_2")
    track = dispatcher.tracks["rogue"]
    assert not track.record.in_service, track.unavailable
    assert alarm_kinds(dispatcher) == [AlarmKind.DUPLICATE_VEHICLE_ID]
    [alarm] = dispatcher.alarms.list(open_only=True)[0]
    assert "rogue" in alarm.message and "headerId" in alarm.message, alarm.message


def test_a_vehicle_that_restarts_is_not_taken_for_two(customs, fleet_and_vehicle):  # noqa: F811
    """Restarted, a vehicle counts its headerIds from 0 again, once: one vehicle, in service, no alarm."""
    dispatcher, vehicle = fleet_and_vehicle
    for _ in range(3):
        _reports_at(dispatcher, customs, vehicle, "vn_parking_1")
    vehicle.header_id = -1  # restarted: its next state is headerId 0
    for _ in range(6):
        _reports_at(dispatcher, customs, vehicle, "vn_parking_1")
    assert dispatcher.tracks["rogue"].record.in_service and alarm_kinds(dispatcher) == []
