"""Alarms as a dispatcher's console sees them over real HTTP and a real WebSocket (uvicorn on a loopback port, the
services as ``xborder serve`` builds them, the dispatch loop's ticks driven on the tests' clock): a vehicle's
fault that the vehicle reset is marked cleared in the list and on the stream, and the cleared one acknowledged
twice is one acknowledgement."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import websockets
from agv_agent.protocol import AgvError, ErrorLevel

from tests.fleet.api.conftest import auth, token

FATAL = AgvError("driveError", ErrorLevel.FATAL, "drive motor over temperature")


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
