"""Helper process for bench_console.py: COUNT VDA 5050 vehicles over MQTT, every one of them moving all the time.

    python console_fleet.py PORT MAP_FOLDER COUNT RATE_HZ

Vehicle agv_001... starts at the parking spot the fleet manager's registry gives it (``simulated: COUNT``) and
wanders the corridor's lanes at the lane's speed (at most ``MAX_SPEED``), turning at random at each node, and
reports its pose, heading and speed on ``uagv/v2/xborder/<id>/state`` at RATE_HZ (and ONLINE on its retained
``connection`` topic), until SIGTERM. It never takes an order, and it names its parking spot as its last node:
the fleet manager leaves it be (a vehicle away from a parking spot would be sent home, and 200 vehicles that
never go would be planned again every tick, a dispatch load no real fleet makes). So what is measured is the
console's side of 200 moving vehicles: the service still takes in, views and streams every state, as it would
real ones.
"""

from __future__ import annotations

import json
import math
import random
import signal
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from agv_agent import vda_json
from agv_agent.protocol import ConnectionState, Header, Pose, VehicleState

from fleet.maps import load_corridor
from planner.corridor import Lane
from sim.ros_fleet import parking_spots

MAX_SPEED = 3.0  # m/s
MANUFACTURER = "xborder"


@dataclass
class Walker:
    """One vehicle on one lane: how far along it is (m)."""

    id: str
    home: str  # its parking spot: its last node as far as the fleet manager is told
    lane: Lane
    along: float = 0.0

    def pose(self) -> Pose:
        """Where it is on the lane, heading along the lane there."""
        geometry = self.lane.geometry
        a = min(self.along, geometry.length - 0.5)
        here, behind, ahead = (geometry.interpolate(d) for d in (self.along, max(a, 0.0), a + 0.5))
        return Pose(here.x, here.y, math.atan2(ahead.y - behind.y, ahead.x - behind.x))


def main() -> None:
    port, folder, count, rate = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop.append(signum))
    corridor = load_corridor(folder)
    leaving: dict[str, list[Lane]] = defaultdict(list)
    for lane in corridor.lanes.values():
        leaving[lane.source].append(lane)
    randomness = random.Random(count)
    walkers = [Walker(spec.vehicle_id, spec.node_id, randomness.choice(leaving[spec.node_id]))
               for spec in parking_spots(corridor, count)]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"console-fleet-{port}")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    header = Header(manufacturer=MANUFACTURER)
    for k, walker in enumerate(walkers):
        online = vda_json.connection_json(ConnectionState.ONLINE, k, MANUFACTURER, walker.id, time.time())
        client.publish(vda_json.mqtt_topic(MANUFACTURER, walker.id, "connection"), json.dumps(online), qos=1,
                       retain=True)
    period, sent = 1.0 / rate, 0
    tick = time.monotonic()
    while not stop:
        for walker in walkers:
            speed = min(MAX_SPEED, walker.lane.max_speed)
            walker.along += speed * period
            while walker.along >= walker.lane.geometry.length:
                walker.along -= walker.lane.geometry.length
                walker.lane = randomness.choice(leaving[walker.lane.target] or [walker.lane])
            state = VehicleState(walker.id, "", 0, walker.home, 0, (), (), walker.pose(), (speed, 0.0),
                                 True, False, False, 80.0, False, stamp=time.time(), header=header)
            client.publish(vda_json.mqtt_topic(MANUFACTURER, walker.id, "state"),
                           json.dumps(vda_json.state_json(state, sent)))
            sent += 1
        tick += period
        time.sleep(max(0.0, tick - time.monotonic()))
    client.loop_stop()
    print(f"SENT {sent}", flush=True)


if __name__ == "__main__":
    main()
