"""The VDA 5050 broker with a password per client and the fleet's access list (a real mosquitto): each vehicle
speaks for itself only. Found by trying it: on the anonymous broker any client could report a vehicle's state
for it and send any vehicle an order (one that releases the crossing, say), and the fleet had no way to log in
to a broker that asks for a password."""

from __future__ import annotations

import datetime
import ipaddress
import json
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from agv_agent import vda_json
from agv_agent.logic import AgentLogic, AgentParams

from fleet.vehicles.link import VehicleLinkError
from fleet.vehicles.mqtt_access import FLEET_USER
from fleet.vehicles.mqtt_link import MqttVehicleLink
from sim.mqtt_broker import Broker
from sim.processes import free_port
from tests.ros.test_ros_vehicles import line

PASSWORDS = {FLEET_USER: "fleet-secret-1", "agv_001": "agv1-secret-22", "agv_002": "agv2-secret-333"}


@pytest.fixture(scope="module")
def broker():
    with Broker(users=PASSWORDS) as running:
        yield running


class Client:
    """A raw MQTT client logged in as ``user``: what a program on the vehicle network can do with a login."""

    def __init__(self, port: int, user: str | None, password: str | None = None) -> None:
        self.received: list[tuple[str, dict]] = []
        self.refused: str | None = None
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{user}-{time.monotonic_ns()}")
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, json.loads(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, _client, _userdata, _flags, reason, _properties=None) -> None:
        self.refused = str(reason) if reason.is_failure else None
        self.ready.set()

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        time.sleep(0.3)  # the subscription is in place before anything is sent

    def publish(self, topic: str, payload: dict) -> None:
        self.client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def state_of(serial: str, node: str) -> dict:
    logic = AgentLogic(AgentParams(serial, initial_node_id=node), time.time())
    return vda_json.state_json(logic.state(time.time()), 0)


def topic(serial: str, name: str) -> str:
    return vda_json.mqtt_topic("xborder", serial, name)


def test_the_fleet_logs_in_and_a_wrong_password_is_said_at_once(broker):
    started = time.monotonic()
    with pytest.raises(VehicleLinkError, match="refused the fleet's connection"):
        MqttVehicleLink(port=broker.port, username=FLEET_USER, password="wrong")
    assert time.monotonic() - started < 5  # not the connect timeout
    with pytest.raises(VehicleLinkError, match="refused"):
        MqttVehicleLink(port=broker.port)  # anonymous
    MqttVehicleLink(port=broker.port, username=FLEET_USER, password=PASSWORDS[FLEET_USER]).close()


def test_a_vehicle_speaks_for_itself_only(broker):
    fleet = MqttVehicleLink(port=broker.port, username=FLEET_USER, password=PASSWORDS[FLEET_USER])
    one, two = (Client(broker.port, v, PASSWORDS[v]) for v in ("agv_001", "agv_002"))
    stranger = Client(broker.port, None)
    try:
        assert all(c.ready.wait(5) for c in (one, two, stranger))
        assert one.refused is None and two.refused is None and stranger.refused is not None
        two.subscribe(topic("agv_002", "order"))
        one.subscribe(topic("agv_002", "order"))  # not its own: the broker gives it nothing
        one.publish(topic("agv_001", "state"), state_of("agv_001", "vn_parking_1"))
        one.publish(topic("agv_002", "state"), state_of("agv_002", "cn_deck_in_1"))  # a state for another
        one.publish(topic("agv_002", "order"), vda_json.order_json(
            line("agv_002", released=3), 0, "xborder", "agv_002", time.time()))  # an order for another
        assert fleet.wait_for(lambda: fleet.state("agv_001") is not None, 5)
        fleet.send_order("agv_002", line("agv_002", released=2))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not two.received:
            time.sleep(0.05)
        time.sleep(0.5)  # anything else on its way has come
        assert fleet.state("agv_001").last_node_id == "vn_parking_1"
        assert fleet.state("agv_002") is None  # agv_001's word for agv_002 never reached the fleet
        released = [sum(n["released"] for n in payload["nodes"]) for _, payload in two.received]
        assert released == [2]  # the fleet's order only (agv_001's released 3)
        assert one.received == []
    finally:
        for client in (one, two, stranger):
            client.close()
        fleet.close()


def _certificate(subject: str, key, issuer_cert=None, issuer_key=None, ip: str | None = None):
    """A certificate for ``key``: self-signed (a CA) or signed by the issuer; ``ip`` as its subject alt name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=issuer_cert is None, path_length=None), critical=True))
    if ip is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                        critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def test_the_fleet_speaks_tls_with_a_broker_its_ca_vouches_for(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def pem(path, obj) -> str:
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM) if hasattr(obj, "public_bytes")
                         else obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
        return str(path)

    ca_key, other_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("site CA", ca_key)
    server = _certificate("broker", server_key, ca, ca_key, ip="127.0.0.1")
    ca_file, other_ca = pem(tmp_path / "ca.pem", ca), pem(tmp_path / "other.pem", _certificate("other", other_key))
    tls = (tmp_path / "broker.pem", tmp_path / "broker.key")
    pem(tls[0], server)
    pem(tls[1], server_key)
    with Broker(users=PASSWORDS, tls=tls) as broker:
        login = {"username": FLEET_USER, "password": PASSWORDS[FLEET_USER]}
        MqttVehicleLink(port=broker.port, tls_ca=ca_file, **login).close()
        with pytest.raises(VehicleLinkError, match="certificate verify failed"):
            MqttVehicleLink(port=broker.port, tls_ca=other_ca, **login)  # a broker it cannot vouch for
        with pytest.raises(VehicleLinkError):
            MqttVehicleLink(port=broker.port, connect_timeout_s=3, **login)  # plain MQTT to a TLS listener


def test_the_fleet_says_a_lost_broker_and_a_refused_login_and_connects_again_when_it_may():
    """Found by trying it: the broker stopped, or started again with the fleet's password changed, the link went
    quietly unhealthy (only every vehicle falling silent showed it, no word of why), and paho waited up to two
    minutes between attempts. Now the link says what is wrong (the dispatcher raises it as an alarm:
    tests/fleet/dispatch/test_vehicle_link_trouble.py), and is back within seconds of a broker that lets it in."""
    port = free_port()
    first = Broker(port=port, users=PASSWORDS).start()
    fleet = MqttVehicleLink(port=port, username=FLEET_USER, password=PASSWORDS[FLEET_USER])
    try:
        assert fleet.trouble() is None
        first.stop()
        assert fleet.wait_for(lambda: "lost the MQTT broker" in (fleet.trouble() or ""), 5), fleet.trouble()
        with Broker(port=port, users={**PASSWORDS, FLEET_USER: "changed-on-the-broker"}):
            assert fleet.wait_for(lambda: "refused the fleet's connection: Not authorized" in (fleet.trouble() or ""),
                                  15), fleet.trouble()
        time.sleep(3)  # lost again: its attempts back off to their longest (RECONNECT_MAX_S)
        with Broker(port=port, users=PASSWORDS):
            back = time.monotonic()
            assert fleet.wait_for(lambda: fleet.trouble() is None, 15), fleet.trouble()
            assert time.monotonic() - back < MqttVehicleLink.RECONNECT_MAX_S + 2
    finally:
        fleet.close()
