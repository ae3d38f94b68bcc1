"""``xborder serve`` with read workers (``server.read_workers``), real processes: the workers answer the read routes
from the loop's views and the store, pass everything else on, show a client its own writes at once, keep
answering reads while the loop's process is stopped, and die with it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
import websockets

from fleet.api.read_workers import NICENESS
from sim.service_process import ServiceProcess, token_for

NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(role)}"}


@pytest.fixture(scope="module")
def service(tmp_path_factory, key_dir):
    """One service for the module (a start with read workers takes 5 to 30 s, by the machine's load): the tests
    run in the file's order, the one that kills the loop's process last."""
    running = ServiceProcess(tmp_path_factory.mktemp("read-workers"),
                             {n: (key_dir / f"{n}.pub").read_text().strip() for n in NAMES},
                             fleet={"link": "inprocess", "simulated": 2}, server={"read_workers": 2}).start()
    assert running.process is not None
    wait_until(lambda: len(children_of(running.process.pid)) == 2, 30, "two read workers started")
    yield running
    running.stop()


def order_body(n: int) -> dict:
    return {"consignments": [f"VN-RDW{n:09d}"], "pickup": "vn_dock_1", "drop": "cn_dock_1"}


def test_a_client_reads_its_own_writes_through_the_workers(service):
    with httpx.Client(base_url=service.base, timeout=10) as client:
        before = client.get("/orders", params={"limit": 1}, headers=auth("viewer")).json()["total"]
        for n in range(20):  # each read right after the write: whichever worker takes it has heard the news
            created = client.post("/orders", json=order_body(n), headers=auth("dispatcher"))
            assert created.status_code == 201, created.text
            order_id = created.json()["id"]
            assert client.get(f"/orders/{order_id}", headers=auth("viewer")).json()["id"] == order_id
            assert client.get("/orders", params={"limit": 5}, headers=auth("viewer")).json()["total"] == before + n + 1
            cancelled = client.post(f"/orders/{order_id}/cancel", json={"reason": "test"}, headers=auth("dispatcher"))
            assert cancelled.status_code == 200, cancelled.text
            assert client.get(f"/orders/{order_id}", headers=auth("viewer")).json()["state"] == "cancelled"
        vehicle = client.get("/vehicles", headers=auth("viewer")).json()[0]["id"]
        out = client.post(f"/vehicles/{vehicle}/service", json={"in_service": False, "reason": "test"},
                          headers=auth("operator"))
        assert out.status_code == 200, out.text
        assert client.get(f"/vehicles/{vehicle}", headers=auth("viewer")).json()["in_service"] is False
        assert "x-xborder-seq" not in out.headers


def _why_an_order_waits_is_the_loops_answer(service) -> None:
    """Found by hand: an order stood `created` for minutes beside idle vehicles none of which was authorized to
    cross (no customs simulator running), and nothing said why. The workers pass `GET /waiting` on to the loop
    (a part of the next test: a service with read workers takes half a minute to start)."""
    with httpx.Client(base_url=service.base, timeout=10) as client:
        created = client.post("/orders", json=order_body(900), headers=auth("dispatcher"))
        assert created.status_code == 201, created.text
        order_id = created.json()["id"]
        waiting = client.get("/waiting", headers=auth("viewer"))
        assert waiting.status_code == 200, waiting.text
        mine = next(w for w in waiting.json() if w["order_id"] == order_id)
        assert mine["kind"] in ("no_vehicle", "no_authorized_vehicle"), mine  # the vehicles may not report yet
        wait_until(lambda: next(w for w in client.get("/waiting", headers=auth("viewer")).json()
                                if w["order_id"] == order_id)["kind"] == "no_authorized_vehicle", 30,
                   "the order said to wait for a vehicle authorized to cross")
        assert client.get("/waiting", params={"limit": 0}, headers=auth("viewer")).status_code == 422
        assert client.get("/waiting").status_code == 401
        client.post(f"/orders/{order_id}/cancel", json={"reason": "test"}, headers=auth("dispatcher"))
        assert all(w["order_id"] != order_id for w in client.get("/waiting", headers=auth("viewer")).json())


def test_roles_and_refusals_are_the_same_through_a_worker(service, signers):
    with httpx.Client(base_url=service.base, timeout=10) as client:
        assert client.get("/vehicles").status_code == 401  # answered by the worker
        assert client.get("/orders", headers=auth("bogus")).status_code == 401
        assert client.post("/orders", json=order_body(1), headers=auth("viewer")).status_code == 403  # the loop's
        assert client.post("/orders", json={"pickup": "vn_dock_1"}, headers=auth("dispatcher")).status_code == 422
        assert client.get("/orders/nope", headers=auth("viewer")).status_code == 404
        assert client.get("/vehicles/agv_none", headers=auth("viewer")).status_code == 404
        assert client.get("/vehicles/agv_none/crossing", headers=auth("viewer")).status_code in (404, 422)
        assert client.get("/map", headers=auth("viewer")).json()["type"] == "FeatureCollection"
        assert client.get("/health").json()["status"] == "ok"
        event = signers["VN_CUSTOMS"].event("released", "VN-RDW000000001", direction="VN->CN")
        posted = client.post("/customs/events", json=event, headers=auth("customs:VN_CUSTOMS"))  # signed, over HTTP
        assert posted.status_code == 200 and posted.json()["outcome"] == "accepted", posted.text
        forged = client.post("/customs/events", json=event | {"consignment_id": "VN-RDW000000002"},
                             headers=auth("customs:VN_CUSTOMS"))
        assert forged.status_code in (400, 422) or forged.json()["outcome"] == "refused", forged.text
        head = client.get("/audit", headers=auth("viewer")).json()["head_seq"]
        export = client.get("/audit/export", headers=auth("viewer"))  # streamed back through the worker
        assert export.status_code == 200 and head > 0 and len(export.text.splitlines()) == head, (head, export.text)
        assert client.get("/audit/verify", headers=auth("viewer")).json()["ok"]
    root = service.base.removesuffix("/api/v1")
    assert "xborder" in httpx.get(f"{root}/", timeout=10).text.lower()  # the console, the worker's own files
    assert "xborder_dispatch_tick_seconds" in httpx.get(f"{root}/metrics", timeout=10).text  # the loop's
    _why_an_order_waits_is_the_loops_answer(service)


def test_the_stream_is_passed_on(service):
    ws_base = service.base.replace("http", "ws", 1)

    async def follow() -> tuple[dict, int]:
        async with websockets.connect(f"{ws_base}/stream?topics=order&token={token_for('viewer')}") as stream:
            await asyncio.sleep(0.5)  # subscribed at the loop's process before the order is made
            created = await asyncio.to_thread(httpx.post, f"{service.base}/orders", json=order_body(99),
                                              headers=auth("dispatcher"), timeout=10)
            assert created.status_code == 201
            message = json.loads(await asyncio.wait_for(stream.recv(), 10))
        async with websockets.connect(f"{ws_base}/stream?token=wrong") as refused:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(refused.recv(), 10)
        async with websockets.connect(f"{ws_base}/stream?topics=nope&token={token_for('viewer')}") as unknown:
            with pytest.raises(websockets.ConnectionClosed):  # was a protocol error: a 130-byte close reason
                await asyncio.wait_for(unknown.recv(), 10)
        return message, (refused.close_code, unknown.close_code, unknown.close_reason)

    message, (code, unknown_code, unknown_reason) = asyncio.run(follow())
    assert message["topic"] == "order" and message["data"]["order_id"]
    assert code == 4401
    assert unknown_code == 4400 and "unknown: nope" in unknown_reason


def test_reads_go_on_while_the_loops_process_is_stopped(service):
    """The workers answer the read routes themselves: with the loop's process frozen (SIGSTOP) they still do,
    from the views last sent; /health says the loop is silent; writes wait for it."""
    with httpx.Client(base_url=service.base, timeout=10) as client:
        order_id = client.post("/orders", json=order_body(7), headers=auth("dispatcher")).json()["id"]
        os.kill(service.process.pid, signal.SIGSTOP)
        try:
            for _ in range(10):
                assert len(client.get("/vehicles", headers=auth("viewer")).json()) == 2
                assert client.get(f"/orders/{order_id}", headers=auth("viewer")).status_code == 200
                assert client.get("/gates", headers=auth("viewer")).status_code == 200
            time.sleep(3.5)
            silent = client.get("/health")
            assert silent.status_code == 503 and "silent" in silent.json()["detail"]
            with pytest.raises(httpx.ReadTimeout):
                client.post("/orders", json=order_body(8), headers=auth("dispatcher"), timeout=1)
        finally:
            os.kill(service.process.pid, signal.SIGCONT)
        wait_until(lambda: client.get("/health").status_code == 200, 10, "healthy again")


def test_workers_run_niced_die_with_the_loops_process_and_a_dead_one_is_replaced(service):
    assert service.process is not None
    workers = children_of(service.process.pid)
    leader_nice = os.getpriority(os.PRIO_PROCESS, service.process.pid)
    assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in workers} == {min(19, leader_nice + NICENESS)}
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(children_of(service.process.pid) - {victim}) == 2, 10, "a worker started again")
    assert httpx.get(f"{service.base}/vehicles", headers=auth("viewer"), timeout=10).status_code == 200
    workers = children_of(service.process.pid) - {victim}
    os.kill(service.process.pid, signal.SIGKILL)  # the loop's process alone, not its group
    wait_until(lambda: not any(alive(pid) for pid in workers), 10, "the workers gone with it")
    service.start()  # the port is free again at once
    assert service.get("/health")["status"] == "ok"
