"""The customs service as deployed: ``xborder serve`` in its own process, real ZeroMQ sockets, real HTTP,
a real SQLite file; the authority simulator as a separate process; SIGKILL and restart."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import zmq

from fleet.customs.clearance import AcceptedEvent, consignment_clearance
from fleet.customs.envelope import EventType
from fleet.customs.signing import parse_public_key, signature_valid
from fleet.transports.curve import CurvePair, make_client
from sim.customs_authority import Profile, build_schedule, consignment_ids
from sim.service_process import ServiceProcess, token_for

BIN = Path(sys.executable).parent
NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")


@pytest.fixture
def service(tmp_path, key_dir):
    svc = ServiceProcess(tmp_path, {n: (key_dir / f"{n}.pub").read_text().strip() for n in NAMES},
                         curve_public_keys={n: (key_dir / f"{n}.curve.pub").read_text().strip() for n in NAMES}).start()
    svc.key_dir = key_dir
    yield svc
    svc.stop()


def secure(service: ServiceProcess, sock: zmq.Socket, name: str) -> zmq.Socket:
    """Make ``sock`` a CURVE client of the service with ``name``'s key (before connecting it)."""
    sock.setsockopt(zmq.LINGER, 0)
    make_client(sock, CurvePair.from_secret_file(service.key_dir / f"{name}.curve.key"),
                service.fleet_curve_pub.read_text().strip().encode())
    return sock


def dealer(service: ServiceProcess, name: str = "VN_CUSTOMS") -> zmq.Socket:
    sock = secure(service, zmq.Context.instance().socket(zmq.DEALER), name)
    sock.connect(service.router)
    return sock


def send(sock: zmq.Socket, event: dict, fleet_pub: Path | None = None) -> dict:
    """Send one event; the reply, checked to carry the fleet's signature when ``fleet_pub`` is given."""
    sock.send(json.dumps(event).encode())
    assert sock.poll(10_000), "no reply from the ROUTER"
    reply = json.loads(sock.recv())
    if fleet_pub is not None:
        assert signature_valid(reply, parse_public_key(fleet_pub.read_text())), reply
    return reply


def test_zeromq_events_decisions_and_pub(service, signers):
    sub = secure(service, zmq.Context.instance().socket(zmq.SUB), "CN_CUSTOMS")
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(service.pub)
    socks = {name: dealer(service, name) for name in NAMES}
    c = "VN-000000000001"
    for name, signer in signers.items():
        reply = send(socks[name], signer.event("vehicle.authorized", vehicle_id="agv_007"), service.fleet_pub)
        assert reply["status"] == "ACK"
        for kind in ("declaration.accepted", "released"):
            reply = send(socks[name], signer.event(kind, c, direction="VN->CN"), service.fleet_pub)
            assert reply["status"] == "ACK" and reply["outcome"] == "accepted", reply
    assert reply["checkpoint"]["audit_seq"] >= 0  # the latest signed checkpoint rides on every ACK
    forged = signers["VN_CUSTOMS"].event("hold", c, direction="VN->CN")
    forged["authority"] = "CN_CUSTOMS"
    reply = send(socks["CN_CUSTOMS"], forged, service.fleet_pub)
    assert reply["status"] == "NACK" and "bad signature" in reply["reason"] and reply["resend"] is False
    assert service.get(f"/consignments/{c}/clearance")["crossing_allowed"] is True
    decision = service.get("/vehicles/agv_007/crossing", direction="VN->CN", consignments=c)
    assert decision["crossing_allowed"] is True and len(decision["relied_on"]) == 4
    topics = set()
    fleet_key = parse_public_key(service.fleet_pub.read_text())
    deadline = time.monotonic() + 10
    while "clearance" not in topics and time.monotonic() < deadline:
        if sub.poll(500):
            topic, body = sub.recv_multipart()
            message = json.loads(body)
            assert signature_valid(message, fleet_key) and message["topic"] == topic.decode()
            topics.add(topic.decode())
    assert "clearance" in topics
    for sock in [*socks.values(), sub]:
        sock.close()


def test_http_events_with_token_roles(service, signers):
    c = "CN-000000000002"
    event = signers["CN_CUSTOMS"].event("declaration.accepted", c, direction="CN->VN")
    url = f"{service.base}/customs/events"
    vn, cn = ({"Authorization": f"Bearer {token_for(f'customs:{n}')}"} for n in NAMES)
    assert httpx.post(url, json=event).status_code == 401
    wrong = httpx.post(url, json=event, headers=vn)
    assert wrong.status_code == 403 and "may not post events of CN_CUSTOMS" in wrong.json()["reason"]
    viewer = httpx.post(url, json=event, headers={"Authorization": f"Bearer {token_for('viewer')}"})
    assert viewer.status_code == 403
    ok = httpx.post(url, json=event, headers=cn)
    assert ok.status_code == 200 and {k: v for k, v in ok.json().items() if k != "checkpoint"} == {
        "status": "ACK", "outcome": "accepted", "event_id": event["event_id"]}
    again = httpx.post(url, json=event, headers=cn)
    assert again.json()["outcome"] == "duplicate"
    bad = httpx.post(url, content=b"{", headers={**cn, "Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["reason"].startswith("malformed: not JSON")
    clearance = service.get(f"/consignments/{c}/clearance")
    assert clearance["CN_CUSTOMS"] == "declared" and clearance["VN_CUSTOMS"] == "pending"
    assert clearance["crossing_allowed"] is False


def expected_status(authority: str, side: str, profile: Profile) -> dict[str, str]:
    """An independent reading of the simulator's schedule: each consignment's status from this authority."""
    events = [AcceptedEvent(str(i), authority, i, EventType(s.fields["type"]), s.fields.get("consignment_id"))
              for i, s in enumerate(build_schedule(authority, side, profile), start=1)]
    return {c: str(consignment_clearance([e for e in events if e.consignment_id == c]).status)
            for c, _ in consignment_ids(profile)}


@pytest.mark.slow
def test_simulators_with_faults_then_kill_and_restart(service, key_dir, tmp_path):
    profile = Profile(consignments=15, vehicles=3, seed=7)
    runs = []
    for name, faults in (("VN_CUSTOMS", "duplicates,reorder,delay,forge"), ("CN_CUSTOMS", "outage,reorder")):
        runs.append(subprocess.Popen(
            [str(BIN / "xborder"), "customs", "simulate", "--authority", name, "--key", str(key_dir / f"{name}.key"),
             "--curve-key", str(key_dir / f"{name}.curve.key"), "--server-key", str(service.fleet_curve_pub),
             "--fleet-key", str(service.fleet_pub),
             "--connect", service.router, "--consignments", "15", "--vehicles", "3",
             "--time-scale", "0", "--faults", faults, "--seed", "7"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert "accepted" in outputs[0] and "bad signature" in outputs[0] and "duplicate" in outputs[0]
    expected = {name: expected_status(name, name[:2], profile) for name in ("VN_CUSTOMS", "CN_CUSTOMS")}
    seen = {c: service.get(f"/consignments/{c}/clearance") for c, _ in consignment_ids(profile)}
    for c, answer in seen.items():
        assert {name: answer[name] for name in expected} == {name: expected[name][c] for name in expected}, c
    audit_before = tmp_path / "before.jsonl"
    export = [str(BIN / "xborder"), "audit", "export", "--db", str(service.db), "--out"]
    service.kill()  # SIGKILL: no chance to flush anything
    assert subprocess.run(export + [str(audit_before)], capture_output=True).returncode == 0
    service.start()
    assert {c: service.get(f"/consignments/{c}/clearance") for c in seen} == seen
    audit_after = tmp_path / "after.jsonl"
    assert subprocess.run(export + [str(audit_after)], capture_output=True).returncode == 0
    assert audit_after.read_text() == audit_before.read_text()
    verify = subprocess.run([str(BIN / "xborder"), "audit", "verify", str(audit_after)], capture_output=True, text=True)
    assert verify.returncode == 0 and "intact" in verify.stdout
    assert os.path.getsize(service.db) > 0


def flood(service: ServiceProcess, events: dict[str, list[dict]], stop_after_acks: int | None = None,
          window: int = 128) -> dict[str, dict]:
    """Pipeline every authority's events over its own CURVE DEALER (``window`` in flight each); the replies by
    event_id, each checked to carry the fleet's signature. With ``stop_after_acks``: SIGKILL the service as
    soon as that many ACKs are in, with events still in flight, and return the replies received until then."""
    fleet_key = parse_public_key(service.fleet_pub.read_text())
    socks = {name: dealer(service, name) for name in events}
    poller = zmq.Poller()
    for sock in socks.values():
        poller.register(sock, zmq.POLLIN)
    sent, answered = dict.fromkeys(events, 0), dict.fromkeys(events, 0)
    replies: dict[str, dict] = {}
    total = sum(len(batch) for batch in events.values())
    while len(replies) < total:
        for name, sock in socks.items():
            while sent[name] < len(events[name]) and sent[name] - answered[name] < window:
                sock.send(json.dumps(events[name][sent[name]]).encode())
                sent[name] += 1
        ready = dict(poller.poll(10_000))
        assert ready, "no reply from the ROUTER"
        for name, sock in socks.items():
            while sock in ready and sock.poll(0):
                reply = json.loads(sock.recv())
                assert signature_valid(reply, fleet_key), reply
                replies[reply["event_id"]] = reply
                answered[name] += 1
        if stop_after_acks is not None and len(replies) >= stop_after_acks:
            service.kill()
            break
    for sock in socks.values():
        sock.close()
    return replies


@pytest.mark.slow
def test_kill_9_during_a_pipelined_flood_loses_no_acknowledged_event(service, signers):
    """An ACK goes out only after the batch holding the event is committed (WAL, ``synchronous=FULL``): a
    SIGKILL with hundreds of events in flight loses none that was acknowledged, and a resend of everything
    after the restart is applied exactly once."""
    events = {name: [e for i in range(700) for e in (
        signer.event("declaration.accepted", f"VN-2040{i:08d}", direction="VN->CN"),
        signer.event("released", f"VN-2040{i:08d}", direction="VN->CN"))] for name, signer in signers.items()}
    replies = flood(service, events, stop_after_acks=1200)
    acked = {event_id for event_id, reply in replies.items() if reply["status"] == "ACK"}
    assert len(acked) >= 1200 and all(reply["outcome"] == "accepted" for reply in replies.values())
    with sqlite3.connect(f"file:{service.db}?mode=ro", uri=True) as db:  # what a restart will find on disk
        stored = {row[0] for row in db.execute("SELECT event_id FROM customs_events")}
        audited = {json.loads(row[0])["event_id"] for row in db.execute(
            "SELECT body FROM audit_log WHERE kind = 'event_accepted'")}
    assert acked <= stored and acked <= audited
    assert len(stored) < 2 * 2 * 700, "the kill came after everything was stored: it proves nothing"
    service.start()
    everything = flood(service, events)  # the authorities resend whatever they have no ACK for, and more
    assert all(reply["status"] == "ACK" for reply in everything.values())
    assert {r["outcome"] for event_id, r in everything.items() if event_id in acked} == {"duplicate"}
    assert service.get("/consignments/VN-204000000699/clearance")["crossing_allowed"] is True
