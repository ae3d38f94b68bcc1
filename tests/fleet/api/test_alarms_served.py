"""Alarms as a dispatcher's console sees them over real HTTP and a real WebSocket (uvicorn on a loopback port, the
services as ``xborder serve`` builds them, the dispatch loop's ticks driven on the tests' clock): a vehicle's
fault that the vehicle reset is marked cleared in the list and on the stream, and the cleared one acknowledged
twice is one acknowledgement."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
import websockets
from agv_agent.protocol import AgvError, ErrorLevel

from fleet.api.main import create_app
from tests.fleet.api.conftest import auth, token

FATAL = AgvError("driveError", ErrorLevel.FATAL, "drive motor over temperature")


def _free_port() -> int:
    """A free loopback port in 20000-29999 (others run services on this machine too)."""
    for port in random.sample(range(20000, 30000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-29999")


@pytest.fixture
def served(services) -> Iterator[str]:
    """The app served by uvicorn on a loopback port: its base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=_free_port(),
                                           log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    services.dispatcher.stop()  # its ticks driven here, on the tests' clock
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(30)


def _ticks(services, customs, link, seconds: float) -> None:
    for _ in range(int(seconds / 0.5)):
        customs.clock.now += 0.5
        link.advance(0.5)
        services.dispatcher.tick()


def _faults(base: str) -> list[dict]:
    reply = httpx.get(f"{base}/api/v1/alarms", params={"limit": 500}, headers=auth("viewer"), timeout=10)
    reply.raise_for_status()
    return [a for a in reply.json()["alarms"] if a["kind"] == "vehicle_fault" and a["subject"] == "agv_001"]


async def _alarms_heard(base: str, heard: list[dict], ready: threading.Event, stop: threading.Event) -> None:
    url = base.replace("http://", "ws://") + f"/api/v1/stream?token={token('viewer')}&topics=alarm"
    async with websockets.connect(url) as ws:
        ready.set()
        while not stop.is_set():
            try:
                heard.append(json.loads(await asyncio.wait_for(ws.recv(), 0.2))["data"])
            except TimeoutError:
                continue


def test_a_fault_reset_is_shown_cleared_in_the_list_and_on_the_stream(served, services, customs, link):
    heard: list[dict] = []
    ready, stop = threading.Event(), threading.Event()
    listener = threading.Thread(target=lambda: asyncio.run(_alarms_heard(served, heard, ready, stop)), daemon=True)
    listener.start()
    assert ready.wait(30)
    _ticks(services, customs, link, 2)
    logic = link._vehicles["agv_001"].logic
    logic.errors = [FATAL]
    _ticks(services, customs, link, 2)
    [raised] = _faults(served)
    assert "drive motor over temperature" in raised["message"] and raised["cleared_at"] is None
    logic.errors = []  # reset by the vehicle's people
    _ticks(services, customs, link, 2)
    [cleared] = _faults(served)
    assert cleared["id"] == raised["id"] and cleared["cleared_at"] is not None and cleared["acknowledged_at"] is None
    deadline = time.monotonic() + 10
    while not any(a["id"] == raised["id"] and a["cleared_at"] is not None for a in heard):
        assert time.monotonic() < deadline, heard
        time.sleep(0.05)
    # two consoles acknowledge it at once: one acknowledgement, the first one's, said to both
    replies = [httpx.post(f"{served}/api/v1/alarms/{raised['id']}/acknowledge", headers=auth(role), timeout=10)
               for role in ("operator", "admin")]
    assert [r.status_code for r in replies] == [200, 200]
    assert replies[0].json() == replies[1].json() and replies[1].json()["acknowledged_by"] == "operator"
    assert replies[1].json()["cleared_at"] == cleared["cleared_at"]
    stop.set()
    listener.join(10)
