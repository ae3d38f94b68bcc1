"""A simulated vehicle that speaks VDA 5050 2.1 JSON over MQTT, as a vendor's AGV does: the agent's logic on a
simulated base, no ROS. ``python -m agv_agent.mqtt_vehicle --serial agv_001 --port 1883 --x 0 --y 0``.

Like a vendor's vehicle it gets no heartbeat (VDA 5050 has none): on link loss it drives on to the end of its
base. Its connection topic says ONLINE (retained) and the broker says CONNECTIONBROKEN for it (last will) when
it vanishes; it publishes its factsheet (retained) at start and on ``factsheetRequest``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import signal
import threading
import time

import paho.mqtt.client as mqtt

from agv_agent import vda_json
from agv_agent.kinematics import UnicycleBase
from agv_agent.logic import AgentLogic, AgentParams
from agv_agent.protocol import ConnectionState
from agv_agent.tracker import Limits


class MqttVehicle:
    def __init__(self, serial: str, host: str, port: int, x: float, y: float, theta: float, node_id: str,
                 manufacturer: str = "xborder", control_hz: float = 20.0, state_hz: float = 2.0,
                 password: str | None = None) -> None:
        """``password``: logs in with its serial number as user name (a broker with the fleet's access list)."""
        self.serial, self.manufacturer = serial, manufacturer
        self.logic = AgentLogic(AgentParams(serial, Limits(), link_timeout_s=math.inf, initial_node_id=node_id,
                                            manufacturer=manufacturer), time.time())
        self.base = UnicycleBase(x, y, theta)
        self.dt, self.state_period = 1.0 / control_hz, 1.0 / state_hz
        self.lock = threading.Lock()
        self.header_ids = {name: itertools.count() for name in vda_json.MQTT_TOPICS}
        self.stop_requested = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{manufacturer}-{serial}")
        will = vda_json.connection_json(ConnectionState.CONNECTIONBROKEN, 0, manufacturer, serial, time.time())
        self.client.will_set(self._topic("connection"), json.dumps(will), qos=1, retain=True)
        if password is not None:
            self.client.username_pw_set(serial, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=5)

    def _topic(self, name: str) -> str:
        return vda_json.mqtt_topic(self.manufacturer, self.serial, name)

    def _publish(self, name: str, payload: dict) -> mqtt.MQTTMessageInfo:
        qos, retain = vda_json.MQTT_TOPICS[name]
        return self.client.publish(self._topic(name), json.dumps(payload), qos=qos, retain=retain)

    def _on_connect(self, client: mqtt.Client, _userdata: object, _flags: object, reason: mqtt.ReasonCode,
                    _properties: object = None) -> None:
        if reason.is_failure:  # paho tries again; the operator needs to know why it does not come up
            print(f"{self.serial}: the broker refused the connection: {reason}", flush=True)
            return
        client.subscribe([(self._topic("order"), 0), (self._topic("instantActions"), 0)])
        online = vda_json.connection_json(ConnectionState.ONLINE, next(self.header_ids["connection"]),
                                          self.manufacturer, self.serial, time.time())
        self._publish("connection", online)
        with self.lock:
            self._publish_factsheet()

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(message.payload)
            with self.lock:
                if message.topic.endswith("/order"):
                    self.logic.on_order(vda_json.order_from_json(payload), time.time())
                else:
                    self.logic.on_instant_actions(vda_json.instant_actions_from_json(payload), time.time())
                    if self.logic.factsheet_requested:
                        self._publish_factsheet()
                self._publish_state()
        except (ValueError, vda_json.VdaJsonError) as exc:  # a malformed message changes nothing
            print(f"{self.serial}: ignored a malformed message on {message.topic}: {exc}", flush=True)

    def _publish_factsheet(self) -> None:
        self.logic.factsheet_requested = False
        self._publish("factsheet", vda_json.factsheet_json(self.logic.factsheet(), next(self.header_ids["factsheet"]),
                                                           time.time()))

    def _publish_state(self) -> None:
        self.logic.changed = False
        self._publish("state", vda_json.state_json(self.logic.state(time.time()), next(self.header_ids["state"])))

    def run(self) -> None:
        self.client.loop_start()
        next_state = time.monotonic()
        try:
            while not self.stop_requested.wait(self.dt):
                with self.lock:
                    command = self.logic.step(self.base.pose, time.time(), self.dt, (self.base.v, self.base.w))
                    self.base.step(command, self.dt)
                    if self.logic.changed or time.monotonic() >= next_state:
                        next_state = time.monotonic() + self.state_period
                        self._publish_state()
        finally:  # say OFFLINE (delivered before leaving: a clean disconnect sends no last will)
            self._publish("connection", vda_json.connection_json(
                ConnectionState.OFFLINE, next(self.header_ids["connection"]), self.manufacturer, self.serial,
                time.time())).wait_for_publish(timeout=2)
            self.client.disconnect()
            self.client.loop_stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", required=True)
    parser.add_argument("--manufacturer", default="xborder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--x", type=float, default=0.0)
    parser.add_argument("--y", type=float, default=0.0)
    parser.add_argument("--theta", type=float, default=0.0)
    parser.add_argument("--node", default="")
    parser.add_argument("--password-file", help="log in with the serial number as user name and this password")
    args = parser.parse_args(argv)
    password = open(args.password_file, encoding="utf-8").read().strip() if args.password_file else None
    vehicle = MqttVehicle(args.serial, args.host, args.port, args.x, args.y, args.theta, args.node, args.manufacturer,
                          password=password)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _s, _f: vehicle.stop_requested.set())
    vehicle.run()


if __name__ == "__main__":
    main()
