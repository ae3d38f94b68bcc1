"""Issue 12, finding 4 and 10: the ZeroMQ link is CURVE-encrypted, admits configured authorities only, binds
each sender to its own authority, signs what it says, bounds frames, and answers a DEALER whose id is taken.

The link runs in-process (``build_services``, what ``xborder serve`` runs) on loopback ports."""

from __future__ import annotations

import json

import pytest
import zmq

from fleet.config import Settings
from fleet.customs.signing import generate_keys, parse_public_key, signature_valid
from fleet.services import build_services
from fleet.transports.curve import CurvePair, generate_curve_keys, make_client
from sim.customs_authority import AuthorityLink, LinkKeys

NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")
WAIT_MS = 3000


@pytest.fixture
def link(tmp_path, key_dir):
    """``build_services`` (what ``xborder serve`` runs) with the fleet's keys; clients get their own context."""
    generate_keys("fleet", tmp_path)
    generate_curve_keys("fleet", tmp_path)
    settings = Settings.model_validate({
        "store": {"path": str(tmp_path / "fleet.db")}, "fleet": {"link": "inprocess"},
        "customs": {
            "zmq": {"router": "tcp://127.0.0.1:*", "pub": "tcp://127.0.0.1:*"},
            "fleet": {"signing_key": str(tmp_path / "fleet.key"), "curve_key": str(tmp_path / "fleet.curve.key")},
            "authorities": {name: {"public_key": (key_dir / f"{name}.pub").read_text().strip(), "side": name[:2],
                                   "curve_public_key": (key_dir / f"{name}.curve.pub").read_text().strip()}
                            for name in NAMES}}})
    services = build_services(settings).start()
    context = zmq.Context()
    yield {"gate": services.gate, "context": context, "pub": services.publisher.endpoint,
           "router": services.ingest.endpoint, "key_dir": key_dir,
           "server": (tmp_path / "fleet.curve.pub").read_text().strip().encode(),
           "fleet_key": parse_public_key((tmp_path / "fleet.pub").read_text())}
    context.destroy(linger=0)
    services.close()


def client(link, kind: int, name: str | None, routing_id: bytes | None = None) -> zmq.Socket:
    sock = link["context"].socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if routing_id:
        sock.setsockopt(zmq.ROUTING_ID, routing_id)
    if name:
        make_client(sock, CurvePair.from_secret_file(link["key_dir"] / f"{name}.curve.key"), link["server"])
    sock.connect(link["router"] if kind == zmq.DEALER else link["pub"])
    return sock


def ask(sock: zmq.Socket, payload: bytes) -> dict | None:
    """The reply to ``payload``, or None if none came (or it could not even be sent: no handshake done)."""
    sock.setsockopt(zmq.SNDTIMEO, WAIT_MS)
    try:
        sock.send(payload)
    except zmq.Again:
        return None
    return json.loads(sock.recv(zmq.NOBLOCK)) if sock.poll(WAIT_MS) else None


def test_an_unknown_or_plaintext_client_is_refused_at_the_handshake(link, signers, tmp_path):
    generate_curve_keys("stranger", tmp_path)
    stranger = link["context"].socket(zmq.DEALER)
    stranger.setsockopt(zmq.LINGER, 0)
    make_client(stranger, CurvePair.from_secret_file(tmp_path / "stranger.curve.key"), link["server"])
    stranger.connect(link["router"])
    plaintext = client(link, zmq.DEALER, None)
    event = json.dumps(signers["VN_CUSTOMS"].event("heartbeat")).encode()
    assert ask(stranger, event) is None and ask(plaintext, event) is None
    assert link["gate"].link_ages()["VN_CUSTOMS"] is None  # nothing reached the gate
    known = client(link, zmq.DEALER, "VN_CUSTOMS")
    assert ask(known, event)["status"] == "ACK"


def test_replies_and_publications_are_signed_by_the_fleet(link, signers):
    sub = client(link, zmq.SUB, "CN_CUSTOMS")
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    dealer = client(link, zmq.DEALER, "VN_CUSTOMS")
    reply = ask(dealer, json.dumps(signers["VN_CUSTOMS"].event("heartbeat", seq=3)).encode())
    assert reply["status"] == "ACK" and signature_valid(reply, link["fleet_key"])
    forged = {**reply, "status": "NACK"}  # an on-path rewrite of the answer no longer verifies
    assert not signature_valid(forged, link["fleet_key"])
    link["gate"].tick()  # seqs 1-2 missing: a resend request on PUB
    assert sub.poll(WAIT_MS)
    topic, body = sub.recv_multipart()
    message = json.loads(body)
    assert topic == b"resend" and message["topic"] == "resend" and signature_valid(message, link["fleet_key"])


def test_an_authority_may_send_only_its_own_events(link, signers):
    """With CURVE the sender is who its key says, so CN's key cannot carry VN's (validly signed) events."""
    dealer = client(link, zmq.DEALER, "CN_CUSTOMS")
    reply = ask(dealer, json.dumps(signers["VN_CUSTOMS"].event("heartbeat")).encode())
    assert reply["status"] == "NACK" and reply["reason"] == "CN_CUSTOMS may not post events of VN_CUSTOMS"


def test_a_dealer_whose_routing_id_is_taken_still_gets_answers(link, signers):
    first = client(link, zmq.DEALER, "VN_CUSTOMS", routing_id=b"vn-1")
    assert ask(first, json.dumps(signers["VN_CUSTOMS"].event("heartbeat")).encode())["status"] == "ACK"
    second = client(link, zmq.DEALER, "VN_CUSTOMS", routing_id=b"vn-1")  # e.g. a reconnect, old one half-dead
    assert ask(second, json.dumps(signers["VN_CUSTOMS"].event("heartbeat")).encode())["status"] == "ACK"


def test_an_oversized_frame_is_dropped_before_it_is_buffered(link, signers):
    dealer = client(link, zmq.DEALER, "VN_CUSTOMS")
    assert ask(dealer, b"x" * (8 << 20)) is None  # 8 MB: ZeroMQ drops the connection, no reply, no memory
    assert ask(dealer, json.dumps(signers["VN_CUSTOMS"].event("heartbeat")).encode())["status"] == "ACK"


def test_the_simulators_link_drops_an_unsigned_or_forged_reply(link, signers):
    keys = LinkKeys(CurvePair.from_secret_file(link["key_dir"] / "VN_CUSTOMS.curve.key"), link["server"],
                    link["fleet_key"])
    authority = AuthorityLink(link["router"], keys, timeout_s=2.0, retries=1)
    event = signers["VN_CUSTOMS"].event("heartbeat")
    assert authority.send(event)["status"] == "ACK" and authority.checkpoints
    forged = json.dumps({"status": "ACK", "outcome": "accepted", "event_id": event["event_id"]}).encode()
    assert authority._trusted(forged) is None
    authority.close()


def test_config_without_fleet_keys_still_loads_and_bad_key_files_are_reported(tmp_path, key_dir):
    import yaml

    from fleet.config import ConfigError, load_settings

    authorities = {name: {"public_key": (key_dir / f"{name}.pub").read_text().strip(), "side": name[:2]}
                   for name in NAMES}
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"customs": {"authorities": authorities}}))
    assert load_settings(plain).customs.link_security() is None  # an existing config keeps working
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"customs": {"authorities": authorities, "fleet": {
        "signing_key": str(tmp_path / "missing.key"), "curve_key": str(tmp_path / "missing.curve.key")}}}))
    with pytest.raises(ConfigError, match=r"customs\.fleet"):
        load_settings(broken)
    authorities["VN_CUSTOMS"]["curve_public_key"] = "not-a-key"
    plain.write_text(yaml.safe_dump({"customs": {"authorities": authorities}}))
    with pytest.raises(ConfigError, match="curve_public_key"):
        load_settings(plain)


def test_the_simulator_resends_what_the_fleet_could_not_store(signers):
    """A NACK with ``resend: true`` (the store failed) is not final: the authority sends the event again."""
    import threading

    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    event = signers["VN_CUSTOMS"].event("heartbeat")

    def fleet() -> None:
        for reply in ({"status": "NACK", "outcome": "refused", "event_id": None, "reason": "internal error",
                       "resend": True}, {"status": "ACK", "outcome": "accepted", "event_id": event["event_id"]}):
            identity, _ = router.recv_multipart()
            router.send_multipart([identity, json.dumps(reply).encode()])

    thread = threading.Thread(target=fleet, daemon=True)
    thread.start()
    authority = AuthorityLink(f"tcp://127.0.0.1:{port}", timeout_s=2.0, retries=3)
    assert authority.send(event)["status"] == "ACK"
    thread.join(timeout=5)
    authority.close()
    context.destroy(linger=0)
