"""Request bodies that never finish, found by hand: a client that goes away in the middle of its body is no error of
the service's (a customs POST cut short logged ``Exception in ASGI application`` and a traceback at ERROR), and
one that trickles its body is answered 408 once ``server.body_timeout_s`` has passed (it held its connection for
good: a few dozen such clients took every one of ``server.max_connections``)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from sim.service_process import ServiceProcess, token_for

NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")
ROUTES = (("/api/v1/customs/events", "customs:VN_CUSTOMS"), ("/api/v1/orders", "dispatcher"),
          ("/api/v1/gates/vn_gate_out_1/hold", "operator"))


@pytest.mark.parametrize("read_workers", [0, 1], ids=["alone", "read-worker"])
def test_a_body_cut_short_by_the_client_logs_no_traceback(tmp_path, key_dir, read_workers):
    log = open(tmp_path / "serve.log", "wb")
    service = ServiceProcess(tmp_path, {n: (key_dir / f"{n}.pub").read_text().strip() for n in NAMES},
                             server={"read_workers": read_workers})
    service.start(log=log)
    try:
        for path, role in ROUTES:
            with socket.create_connection(("127.0.0.1", service.http), timeout=5) as sock:
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token_for(role)}\r\n"
                             "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\": ".encode())
                time.sleep(0.3)  # the route is reading the body when the client goes
        time.sleep(1.0)
        assert httpx.get(f"{service.base}/health", timeout=5).status_code == 200  # it serves on
    finally:
        service.stop()
        log.close()
    output = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in output and "Exception in ASGI application" not in output, output[-3000:]


@pytest.mark.parametrize("read_workers", [0, 1], ids=["alone", "read-worker"])
def test_a_body_trickled_past_its_deadline_is_answered_408(tmp_path, key_dir, read_workers):
    service = ServiceProcess(tmp_path, {n: (key_dir / f"{n}.pub").read_text().strip() for n in NAMES},
                             server={"read_workers": read_workers, "body_timeout_s": 2.0}).start()
    try:
        for path, role in ROUTES:
            with socket.create_connection(("127.0.0.1", service.http), timeout=10) as sock:
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token_for(role)}\r\n"
                             "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode())
                started, answer = time.monotonic(), b""
                while not answer and time.monotonic() - started < 8:
                    sock.sendall(b" ")  # a byte every half second: never idle, never done
                    sock.settimeout(0.5)
                    try:
                        answer = sock.recv(200)
                    except TimeoutError:
                        pass
                assert answer.startswith(b"HTTP/1.1 408"), (path, answer)
                assert 1.5 < time.monotonic() - started < 6, path
        assert httpx.get(f"{service.base}/health", timeout=5).status_code == 200
    finally:
        service.stop()
