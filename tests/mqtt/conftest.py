"""A real mosquitto broker per test session on a free loopback port, and a recorder that checks every message on
the broker (both directions) against the official VDA 5050 2.1 JSON schemas."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import jsonschema
import paho.mqtt.client as mqtt
import pytest

from sim.mqtt_broker import Broker

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "data" / "vda5050" / "2.1.0"
SCHEMA_OF_TOPIC = {"order": "order", "instantActions": "instantActions", "state": "state",
                   "connection": "connection", "factsheet": "factsheet"}


@pytest.fixture(scope="session")
def broker():
    """On ``XBORDER_MQTT_PORT`` when set (a machine shared with other runs, each given its own ports), else on a
    free port."""
    port = os.environ.get("XBORDER_MQTT_PORT")
    with Broker(port=int(port) if port else None) as running:
        yield running


class Recorder:
    """Subscribes ``uagv/#`` and validates each message against its topic's schema."""

    def __init__(self, port: int) -> None:
        if not SCHEMAS.is_dir():
            pytest.fail(f"the VDA 5050 2.1 schemas are missing at {SCHEMAS}")
        self.validators = {topic: jsonschema.Draft7Validator(json.loads((SCHEMAS / f"{name}.schema").read_text()))
                           for topic, name in SCHEMA_OF_TOPIC.items()}
        self.messages: list[tuple[str, dict]] = []
        self.invalid: list[str] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda client, *_: client.subscribe("uagv/#", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _client, _userdata, message) -> None:
        name = message.topic.rsplit("/", 1)[-1]
        payload = json.loads(message.payload)
        errors = [f"{message.topic}: {e.message} at {list(e.absolute_path)}"
                  for e in self.validators[name].iter_errors(payload)]
        with self.lock:
            self.messages.append((message.topic, payload))
            self.invalid.extend(errors)

    def topics(self) -> set[str]:
        with self.lock:
            return {topic.rsplit("/", 1)[-1] for topic, _ in self.messages}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def recorder(broker):
    rec = Recorder(broker.port)
    yield rec
    rec.close()
    assert rec.invalid == [], "messages that break the VDA 5050 2.1 schemas:\n" + "\n".join(rec.invalid[:20])


@pytest.fixture
def mqtt_link(broker):
    from fleet.vehicles.mqtt_link import MqttVehicleLink

    link = MqttVehicleLink(port=broker.port)
    yield link
    link.close()
