"""Issue 12, findings 6, 7 and 10 over HTTP: bodies bounded while they stream, a Content-Type required, clean
4xx for every malformed input, a minimal /health, and the customs ZeroMQ link unaffected by a slowloris.

The slowloris test runs ``xborder serve`` in its own process on loopback, bounded to a few seconds."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time

import httpx
import pytest
import zmq
from fastapi.testclient import TestClient

from fleet.api.main import create_app
from fleet.config import Settings
from fleet.services import build_services
from fleet.transports.curve import CurvePair, make_client
from sim.service_process import ServiceProcess, token_for

NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")
VIEWER = "viewer-token-0123456789"
VN_TOKEN = "vn-customs-token-0123456789"


@pytest.fixture
def services(customs, key_dir):
    settings = Settings.model_validate({
        "store": {"path": str(customs.db_path)}, "fleet": {"link": "inprocess"},
        "customs": {"zmq": {"router": "tcp://127.0.0.1:*", "pub": "tcp://127.0.0.1:*"}, "authorities": {
            name: {"public_key": (key_dir / f"{name}.pub").read_text().strip(), "side": name[:2]} for name in NAMES}},
        "auth": {"tokens": [{"token": VIEWER, "role": "viewer"}, {"token": VN_TOKEN, "role": "customs:VN_CUSTOMS"}]}})
    services = build_services(settings, clock=customs.clock)
    yield services
    services.close()


@pytest.fixture
def client(services):
    with TestClient(create_app(services)) as test_client:
        yield test_client


def post(client, content: bytes, content_type: str | None = "application/json"):
    headers = {"Authorization": f"Bearer {VN_TOKEN}", **({"Content-Type": content_type} if content_type else {})}
    return client.post("/api/v1/customs/events", content=content, headers=headers)


@pytest.mark.parametrize("content", [b"[" * 5000, b'{"seq": ' + b"1" * 4400 + b"}", b'"\\ud800"',
                                     b'{"issued_at": "9999-12-31T23:59:59-23:59"}', b"\xff"])
def test_malformed_bodies_get_a_clean_400_nack(client, content):
    reply = post(client, content)
    assert reply.status_code == 400 and reply.json()["status"] == "NACK" and reply.json()["resend"] is False


def test_wrong_content_type_is_415_and_oversized_body_413(client, customs):
    event = json.dumps(customs.vn.event("heartbeat")).encode()
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        assert post(client, event, content_type).status_code == 415
    assert post(client, b" " * (64 * 1024 + 1)).status_code == 413
    assert post(client, event).status_code == 200


def test_health_is_minimal_and_link_details_need_a_token(client):
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    assert client.get("/api/v1/health/customs").status_code == 401
    detail = client.get("/api/v1/health/customs", headers={"Authorization": f"Bearer {VIEWER}"}).json()
    assert set(detail) == set(NAMES) and detail["VN_CUSTOMS"] == {"last_heard_s": None, "missing_seqs": []}


def test_openapi_declares_the_event_body_and_every_401(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/customs/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"event_id", "authority", "seq", "signature"} <= set(body["required"])
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path != "/api/v1/health":
                assert "401" in operation["responses"], (method, path)


# --- against the real server -----------------------------------------------------------------------------------

@pytest.fixture(params=[0, 1], ids=["alone", "read-worker"])
def service(request, tmp_path, key_dir):
    """The service alone, and with a read worker: then the worker takes the port, and the bounds hold there."""
    svc = ServiceProcess(tmp_path, {n: (key_dir / f"{n}.pub").read_text().strip() for n in NAMES},
                         curve_public_keys={n: (key_dir / f"{n}.curve.pub").read_text().strip() for n in NAMES},
                         server={"max_connections": 64, "header_timeout_s": 2.0,
                                 "read_workers": request.param}).start()
    yield svc
    svc.stop()


def on_the_port(service: ServiceProcess) -> int:
    """The process that takes the service's connections: the service's own, or its read worker."""
    assert service.process is not None
    workers = [int(c) for task in os.listdir(f"/proc/{service.process.pid}/task")
               for c in open(f"/proc/{service.process.pid}/task/{task}/children").read().split()]
    return workers[0] if workers else service.process.pid


def raw_request(port: int, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(head)
    return sock


def test_a_huge_body_is_refused_while_it_streams(service):
    """Finding 6: a 200 MB body was buffered whole before the 64 KiB check."""
    head = (f"POST /api/v1/customs/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            f"{token_for('customs:VN_CUSTOMS')}\r\nContent-Type: application/json\r\n").encode()
    declared = raw_request(service.http, head + b"Content-Length: 200000000\r\n\r\n" + b"x" * 1000)
    assert declared.recv(200).startswith(b"HTTP/1.1 413")
    chunked = raw_request(service.http, head + b"Transfer-Encoding: chunked\r\n\r\n")
    # 160 KiB sent, the body never finished: the answer must come anyway. The server may answer and close before
    # the last chunk (a broken pipe here: CI saw it on a slow day); the answer is read all the same
    with contextlib.suppress(OSError):
        for _ in range(40):
            chunked.sendall(b"1000\r\n" + b"x" * 4096 + b"\r\n")
    assert chunked.recv(200).startswith(b"HTTP/1.1 413")


def read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection."""
    chunks = []
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


TOO_LARGE = "request body larger than 1048576 bytes"  # server.max_body_bytes' default


@pytest.mark.parametrize(("path", "role", "answer"), [
    ("/api/v1/customs/events", "customs:VN_CUSTOMS",
     {"status": "NACK", "outcome": "refused", "event_id": None, "resend": False, "reason": TOO_LARGE}),
    ("/api/v1/orders", "dispatcher", {"detail": TOO_LARGE}),
], ids=["customs", "orders"])
def test_an_oversized_body_is_answered_in_the_routes_own_shape(service, path, role, answer):
    """The customs events route's refusals are NACKs (docs/customs-protocol.md section 5), the other routes'
    errors ``{"detail": ...}``: found by hand, POST /orders over the server's limit was answered with a NACK."""
    sock = raw_request(service.http, (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token_for(role)}\r\n"
                                      "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n").encode())
    head, _, body = read_all(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and json.loads(body) == answer, head + body


def test_headers_over_16_kib_are_refused_and_under_it_served(service):
    """The parser (httptools) has no cap of its own on a request's headers: the server counts them as they come,
    whether they come in one read or in many."""
    def get(padding: int, piece: int) -> bytes:
        head = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-pad: " + b"a" * padding + b"\r\n\r\n"
        sock = socket.create_connection(("127.0.0.1", service.http), timeout=5)
        with contextlib.suppress(OSError):  # refused before the last piece: the server may have closed already
            for start in range(0, len(head), piece):
                sock.sendall(head[start:start + piece])
                time.sleep(0.01)
        answer = sock.recv(200)
        sock.close()
        return answer

    for piece in (4000, 100_000):
        assert get(15_000, piece).startswith(b"HTTP/1.1 200")
        assert get(17_000, piece).startswith(b"HTTP/1.1 431")


def test_a_keep_alive_connection_trickling_its_next_request_is_closed(service):
    """The header deadline holds for every request on a connection, not only its first."""
    sock = raw_request(service.http, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):  # the head and the body may come apart
        answer += sock.recv(1000)
    assert answer.startswith(b"HTTP/1.1 200")
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-a: ")
    sock.settimeout(1.0)
    with pytest.raises(TimeoutError):
        sock.recv(10)  # still open within the deadline
    sock.settimeout(3.0)
    try:
        assert sock.recv(10) == b""  # closed once the 2 s deadline passed
    except ConnectionResetError:
        pass  # aborted: closed too
    sock.close()


def test_slowloris_does_not_starve_the_customs_link_or_the_server(service, key_dir, signers):
    """Finding 6: half-open requests exhausted file descriptors; the authority link then timed out."""
    front = on_the_port(service)
    baseline = len(os.listdir(f"/proc/{front}/fd"))
    attackers = []
    for _ in range(300):
        try:
            attackers.append(raw_request(service.http, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-a: "))
        except OSError:
            pass  # refused: the server's backlog is bounded too
    time.sleep(0.5)  # let the server accept (and drop) what is over its cap
    fds = len(os.listdir(f"/proc/{front}/fd")) - baseline
    assert fds <= 64 + 8, fds  # the connection cap holds
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    make_client(dealer, CurvePair.from_secret_file(key_dir / "VN_CUSTOMS.curve.key"),
                service.fleet_curve_pub.read_text().strip().encode())
    dealer.connect(service.router)
    started = time.monotonic()
    for _ in range(50):
        dealer.send(json.dumps(signers["VN_CUSTOMS"].event("heartbeat")).encode())
        assert dealer.poll(2000), "the customs link went unanswered under the HTTP attack"
        assert json.loads(dealer.recv())["status"] == "ACK"
    assert time.monotonic() - started < 10
    time.sleep(2.5)  # the header deadline passes: the server closes every trickling connection
    closed = 0
    for sock in attackers:
        sock.settimeout(0.5)
        try:
            closed += sock.recv(10) == b""
        except ConnectionResetError:
            closed += 1
        except TimeoutError:
            pass  # still open: that is what the test catches
        sock.close()
    assert closed == len(attackers)
    assert httpx.get(f"{service.base}/health", timeout=5).status_code == 200
    dealer.close()


@pytest.mark.slow
def test_a_flood_of_bad_requests_leaves_the_service_log_small(service, signers):
    """Finding 6's last part: bad requests grew the service's log by 230 MB in 30 s. 600 bad requests — forged
    signatures (each an alarm), malformed bodies, unknown routes — now leave a few KB (the audit side of a
    flood: test_customs_input_bounds.py::test_a_refusal_flood_is_rate_limited_per_peer_and_counted)."""
    forged = signers["VN_CUSTOMS"].event("released", "VN-104512345678", direction="VN->CN")
    forged["signature"] = "AAAA" + forged["signature"][4:]
    headers = {"Authorization": f"Bearer {token_for('customs:VN_CUSTOMS')}", "Content-Type": "application/json"}
    with httpx.Client(base_url=service.base, headers=headers, timeout=10) as client:
        for i in range(200):
            assert client.post("/customs/events", content=json.dumps({**forged, "seq": i + 1})).status_code == 400
            assert client.post("/customs/events", content=b"[" * 5000).status_code == 400
            assert client.get(f"/no/such/route/{i}").status_code == 404
    os.set_blocking(service.process.stdout.fileno(), False)
    logged = service.process.stdout.read() or b""
    assert len(logged) < 32 * 1024, f"{len(logged)} bytes logged for 600 bad requests"
    assert httpx.get(f"{service.base}/health", timeout=5).status_code == 200
