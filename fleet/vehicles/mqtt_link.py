"""The fleet's VDA 5050 2.1 link over MQTT, behind :class:`VehicleLink`: what a vendor's AGV speaks.

Topics ``<interfaceName>/<majorVersion>/<manufacturer>/<serialNumber>/<topic>`` (``uagv/v2/...``); the fleet
publishes ``order`` and ``instantActions`` (QoS 0) and subscribes ``state`` (QoS 0), ``connection`` (QoS 1,
retained, the vehicle's last will) and ``factsheet`` (retained). A vehicle is known by its serial number,
taken from the topic (never from the payload); its manufacturer is learnt from its topics, or configured: a
message for that serial number under another manufacturer's topic is refused, and two clients reporting under one
serial number are told by their states' ``headerId`` (:class:`HeaderWatch`).
VDA 5050 has no fleet heartbeat: :meth:`heartbeat` sends nothing, and a vehicle that loses the fleet drives
to the end of its base (docs/vehicle-protocol.md: the fleet bounds the base instead).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Mapping

import paho.mqtt.client as mqtt
from agv_agent import vda_json
from agv_agent.protocol import INTERFACE_NAME, VDA_MAJOR, Action, ConnectionState, Factsheet, Order, VehicleState

from fleet.refusal_limit import RefusalLimiter
from fleet.vehicles.link import (
    HeaderWatch,
    PendingActions,
    RecentFailures,
    VehicleLinkError,
    VehicleSnapshot,
    wait_for,
)

logger = logging.getLogger(__name__)


def _not_json(constant: str) -> float:
    """Python reads ``NaN`` and ``Infinity``, which JSON has not: a position of NaN fell in no jurisdiction, and
    the border watch never judged a vehicle reporting one, wherever it drove."""
    raise ValueError(f"{constant} is not JSON")


def _finite_float(text: str) -> float:
    """``1e999`` is read as infinity: what ``_not_json`` refuses, by another way."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large a number")
    return value


def _float_sized_int(text: str) -> int:
    """An integer beyond a float's range (a position of 400 digits) raised OverflowError where it was read as
    one: out of the dispatch tick, for the whole fleet."""
    value = int(text)
    if abs(value) > sys.float_info.max:
        raise ValueError(f"{text[:20]}... ({len(text)} digits) is too large a number")
    return value


def _json_object(raw: bytes | bytearray) -> object:
    """The JSON in ``raw``; a ValueError for what is no JSON, or JSON the fleet cannot hold (NaN, infinity, a
    number beyond a float, nesting too deep for the parser: a RecursionError, which fell past the refusals)."""
    try:
        return json.loads(raw, parse_constant=_not_json, parse_float=_finite_float, parse_int=_float_sized_int)
    except RecursionError:
        raise ValueError("nested too deep") from None


def _action_ids(state: dict) -> list[str]:
    """The action ids a state's ``actionStates`` lists (the vehicle has the instant actions); what is not a list
    of objects with a text id is left to the state's reader to refuse (iterated as it was, it raised TypeError)."""
    listed = state.get("actionStates")
    if not isinstance(listed, list):
        return []
    return [a["actionId"] for a in listed if isinstance(a, dict) and isinstance(a.get("actionId"), str)]


def _header(state: dict) -> tuple[int, float] | None:
    """A state's ``headerId`` and ``timestamp`` (seconds); None when unreadable (left to the state's reader to
    refuse)."""
    try:
        return int(state["headerId"]), vda_json.seconds(state["timestamp"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _later(new: tuple[int, float] | None, last: dict) -> bool:
    """A state whose header (``_header``) is ``new`` comes after ``last`` from the same vehicle: a higher
    ``headerId`` (VDA 5050 counts it up with each message on a topic), or a later ``timestamp`` (a restarted vehicle
    counts from 0 again). A state repeated, or replayed from before, is not: taken, it showed the vehicle where it
    had been and kept a vehicle that only repeats itself from ever counting as silent. Unreadable headers are left
    to the state's reader to refuse."""
    old = _header(last)
    return new is None or old is None or new[0] > old[0] or new[1] > old[1]


class MqttVehicleLink:
    """Implements :class:`fleet.vehicles.VehicleLink` over an MQTT broker. Thread-safe; :meth:`close` when done."""

    name = "VDA 5050 over MQTT"

    #: the longest wait between attempts to connect again to a lost broker (paho's default, 120 s, left the
    #: vehicles unheard for two minutes after the broker was back)
    RECONNECT_MAX_S = 5.0

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, manufacturer: str = "xborder",
                 manufacturers: Mapping[str, str] | None = None, interface: str = INTERFACE_NAME,
                 on_state: Callable[[str], None] | None = None, resend_s: float = 1.0,
                 connect_timeout_s: float = 10.0, username: str | None = None, password: str | None = None,
                 tls_ca: str | None = None) -> None:
        """``username``/``password``: the fleet's login on a broker that lets no one in anonymously (with the
        access list of :mod:`fleet.vehicles.mqtt_access`); ``tls_ca``: a CA file, to speak TLS with the broker."""
        self.manufacturer, self.interface = manufacturer, interface
        self._manufacturers = dict(manufacturers or {})
        self.on_state = on_state
        self._lock = threading.Lock()
        self._states: dict[str, tuple[dict, float]] = {}  # latest JSON, monotonic arrival: converted when read
        self._unreadable_said: dict[str, dict] = {}  # the last state found unreadable, per vehicle (said once)
        self._connections: dict[str, ConnectionState] = {}
        self._factsheets: dict[str, Factsheet] = {}
        self._header_ids: dict[tuple[str, str], itertools.count] = {}
        self.headers = HeaderWatch()  # the states' headerIds: two vehicles reporting under one serial number
        self.received = 0
        self.failures = RecentFailures("an MQTT message could not be handled")
        #: refusals are logged in bursts, then counted (one bucket for the broker: whoever floods it, the log stays
        #: bounded, and its keys cannot grow with made-up serial numbers)
        self._refusals_logged = RefusalLimiter()
        self.pending = PendingActions(resend_s=resend_s)
        self._connected = threading.Event()
        self._answered = threading.Event()  # the broker accepted the connection or refused it
        self._broker = f"MQTT broker {host}:{port}"
        self._trouble: str | None = f"not yet connected to the {self._broker}"  # None while connected
        self._closed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"xborder-fleet-{id(self):x}")
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=tls_ca)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(1, int(self.RECONNECT_MAX_S))
        self.client.on_message = self._on_message
        try:
            self.client.connect(host, port, keepalive=5)
        except OSError as exc:
            raise VehicleLinkError(f"MQTT broker {host}:{port}: {exc}") from None
        self.client.loop_start()
        if not self._answered.wait(connect_timeout_s) or not self._connected.is_set():
            self.close()
            raise VehicleLinkError(self._trouble if self._answered.is_set() and self._trouble
                                   else f"the {self._broker} did not accept the connection")
        self._resender = threading.Thread(target=self._resend, name="mqtt-resend", daemon=True)
        self._resender.start()

    def _on_connect(self, client: mqtt.Client, _userdata: object, _flags: object, reason: mqtt.ReasonCode,
                    _properties: object = None) -> None:
        if reason.is_failure:  # a wrong password, or a user the broker does not know
            self._trouble = f"the {self._broker} refused the fleet's connection: {reason}"
            self._answered.set()
            return
        base = f"{self.interface}/{VDA_MAJOR}/+/+/"
        client.subscribe([(base + "state", 0), (base + "connection", 1), (base + "factsheet", 0)])

    def _on_subscribe(self, _client: mqtt.Client, _userdata: object, _mid: int, reasons: list[mqtt.ReasonCode],
                      _properties: object = None) -> None:
        """Connected once the broker has granted the subscriptions: the vehicles are heard from then on. Before, the
        link said so as it connected, and a state sent in the moment before the broker took the subscriptions was
        lost (a CI run under load saw it); a broker whose access rules refuse them was taken for a working link."""
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            self._trouble = (f"the {self._broker} refused the fleet's subscriptions to the vehicles' state, "
                             f"connection and factsheet topics ({', '.join(refused)}): check its access rules")
            self._answered.set()
            return
        self._trouble = None
        self._connected.set()
        self._answered.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: object, _flags: object, reason: mqtt.ReasonCode,
                       _properties: object = None) -> None:
        if self._connected.is_set() and not self._closed.is_set():  # not the end of a refused attempt: that says why
            self._trouble = f"lost the {self._broker} ({reason}): connecting again"
        self._connected.clear()

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            _interface, _major, manufacturer, serial, name = message.topic.split("/")
            payload = self._readable(serial, name, message.payload)
            with self._lock:
                known = self._manufacturers.setdefault(serial, manufacturer)
                if known != manufacturer:  # (else B's client spoke for A's vehicle, and orders went to either)
                    raise vda_json.VdaJsonError(f"{name}: serial number {serial!r} is {known!r}'s, not "
                                                f"{manufacturer!r}'s: one vehicle, one manufacturer")
                if name == "state":
                    if message.retain:  # delivered from the broker's store at subscribing: from before
                        raise vda_json.VdaJsonError("state: retained by the broker, so from before (VDA 5050 "
                                                    "states are never retained)")
                    if (header := _header(payload)) is not None:
                        self.headers.heard(serial, *header)
                    last = self._states.get(serial)
                    if last is not None and not _later(header, last[0]):
                        raise vda_json.VdaJsonError(f"state: headerId {payload.get('headerId')!r} at "
                                                    f"{payload.get('timestamp')!r} is no later than the last one's, "
                                                    f"{last[0].get('headerId')!r} at {last[0].get('timestamp')!r}")
                    self._states[serial] = (payload, time.monotonic())
                    self.received += 1
                elif name == "connection":
                    self._connections[serial] = vda_json.connection_from_json(payload)
                elif name == "factsheet":
                    # read as it comes: one it cannot read leaves the vehicle with none (capabilities unknown: no
                    # order), not with the last one, nor a tick that fails at every assignment round
                    self._factsheets.pop(serial, None)
                    self._factsheets[serial] = vda_json.factsheet_from_json(payload)
            if name == "state":
                self.pending.acknowledged(serial, _action_ids(payload))
                if self.on_state:
                    self.on_state(serial)
        except ValueError as exc:  # not JSON, or not VDA 5050 (VdaJsonError): refused, said in one line
            self._failed(message.topic, f"refused: {exc}")
        except Exception as exc:  # one bad message must not stop the others: counted, logged, trouble() says so
            self._failed(message.topic, "could not be handled", exc)

    def _failed(self, topic: str, why: str, bug: Exception | None = None) -> None:
        """A message refused, or one the link failed on (``bug``, logged with its traceback): counted, and said in a
        line while the log's bucket allows, the rest counted in the next line (a flood of either, a traceback
        each before, must not fill the disk)."""
        self.failures.failed()
        logged, unlogged = self._refusals_logged.admit("broker", time.monotonic())
        if logged:
            logger.log(logging.WARNING if bug is None else logging.ERROR, "MQTT message on %s %s%s", topic, why,
                       f" (and {unlogged} more refused since the last line)" if unlogged else "", exc_info=bug)

    @staticmethod
    def _readable(serial: str, name: str, raw: bytes | bytearray) -> dict:
        """The message's JSON object, or VdaJsonError (a ValueError, as json's own errors are): a state that is
        no object was kept and failed every dispatch tick when read, for every vehicle; one whose header names
        another vehicle than its topic is a vehicle's bug or a forgery (VDA 5050: they are the same)."""
        payload = _json_object(raw)
        if not isinstance(payload, dict):
            raise vda_json.VdaJsonError(f"{name}: not a JSON object")
        if payload.get("serialNumber") != serial:
            raise vda_json.VdaJsonError(f"{name}: serialNumber {payload.get('serialNumber')!r} is not the topic's "
                                        f"{serial!r}")
        return payload

    def trouble(self) -> str | None:
        """The broker lost or refusing the fleet's login (paho connects again by itself), or a message that could
        not be handled lately; None: all well."""
        if not self._connected.is_set():
            return self._trouble or f"not connected to the {self._broker}"
        return self.failures.said()

    def _resend(self) -> None:
        while not self._closed.wait(self.pending.resend_s / 2):
            for vehicle_id, actions in self.pending.due().items():
                self._publish_actions(vehicle_id, actions)

    def _topic(self, vehicle_id: str, name: str) -> str:
        with self._lock:
            manufacturer = self._manufacturers.get(vehicle_id, self.manufacturer)
        return vda_json.mqtt_topic(manufacturer, vehicle_id, name, self.interface)

    def _next_header(self, vehicle_id: str, topic: str) -> int:
        with self._lock:
            return next(self._header_ids.setdefault((vehicle_id, topic), itertools.count()))

    def _publish(self, vehicle_id: str, name: str, payload: dict) -> None:
        qos, retain = vda_json.MQTT_TOPICS[name]
        self.client.publish(self._topic(vehicle_id, name), json.dumps(payload), qos=qos, retain=retain)

    def manufacturer_of(self, vehicle_id: str) -> str:
        with self._lock:
            return self._manufacturers.get(vehicle_id, self.manufacturer)

    # --- VehicleLink ---------------------------------------------------------------------------------------------

    def add_vehicle(self, vehicle_id: str) -> None:
        """Every vehicle's topics are subscribed already (wildcards): nothing to prepare."""

    def send_order(self, vehicle_id: str, order: Order) -> None:
        self._publish(vehicle_id, "order", vda_json.order_json(
            order, self._next_header(vehicle_id, "order"), self.manufacturer_of(vehicle_id), vehicle_id, time.time()))

    def send_actions(self, vehicle_id: str, actions: list[Action]) -> None:
        self.pending.sent(vehicle_id, actions)
        self._publish_actions(vehicle_id, actions)

    def _publish_actions(self, vehicle_id: str, actions: list[Action]) -> None:
        self._publish(vehicle_id, "instantActions", vda_json.instant_actions_json(
            actions, self._next_header(vehicle_id, "instantActions"), self.manufacturer_of(vehicle_id), vehicle_id,
            time.time()))

    def heartbeat(self) -> None:
        """VDA 5050 has no fleet heartbeat: nothing is sent (the fleet's safety does not rely on one here)."""

    def state(self, vehicle_id: str) -> VehicleState | None:
        return self.snapshot(vehicle_id).state

    def state_age(self, vehicle_id: str) -> float | None:
        with self._lock:
            entry = self._states.get(vehicle_id)
        return time.monotonic() - entry[1] if entry else None

    def connection(self, vehicle_id: str) -> str | None:
        with self._lock:
            return self._connections.get(vehicle_id)

    def changed_vehicles(self) -> None:
        """Cannot tell: each snapshot carries the state's age (``VehicleLink.changed_vehicles``)."""
        return None

    def snapshot(self, vehicle_id: str) -> VehicleSnapshot:
        with self._lock:
            entry = self._states.get(vehicle_id)
            connection = self._connections.get(vehicle_id)
        duplicate = self.headers.duplicate(vehicle_id)
        if entry is None:
            return VehicleSnapshot(None, None, connection, duplicate)
        try:
            state = vda_json.state_from_json(entry[0])
        except vda_json.VdaJsonError as exc:
            state = None
            with self._lock:  # said once per state received: the loop reads every vehicle at every tick
                said, self._unreadable_said[vehicle_id] = self._unreadable_said.get(vehicle_id), entry[0]
            if said is not entry[0]:
                self._failed(self._topic(vehicle_id, "state"), f"refused: unreadable, the vehicle has no state: {exc}")
        return VehicleSnapshot(state, time.monotonic() - entry[1], connection, duplicate)

    def factsheet(self, vehicle_id: str) -> Factsheet | None:
        with self._lock:
            return self._factsheets.get(vehicle_id)

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
        return wait_for(predicate, timeout_s, poll_s)

    def close(self) -> None:
        self._closed.set()
        self.client.disconnect()
        self.client.loop_stop()
