"""Two ``xborder serve`` processes on one PostgreSQL store (``store.election``): the first leads and serves, the
second waits as a standby; ``kill -9`` the leader while it dispatches, and the standby serves within seconds
with every order and customs event once, and one audit chain (``xborder audit export`` + ``verify``); a leader
cut off from the database ends itself and the other takes over."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from fleet.services import STEPPED_DOWN_EXIT
from sim.customs_authority import AuthorityLink, LinkKeys
from sim.service_process import ServiceProcess, token_for
from sim.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

XBORDER = str(Path(sys.executable).with_name("xborder"))
AUTHORITIES = ("VN_CUSTOMS", "CN_CUSTOMS")


def fleet_manager(workdir: Path, key_dir: Path, url: str, node: str) -> ServiceProcess:
    keys = {name: (key_dir / f"{name}.pub").read_text().strip() for name in AUTHORITIES}
    curve = {name: (key_dir / f"{name}.curve.pub").read_text().strip() for name in AUTHORITIES}
    return ServiceProcess(workdir, keys, curve_public_keys=curve, config_name=node,
                          fleet={"link": "inprocess", "simulated": 2},
                          store={"url": url, "election": {"node": node, "poll_s": 0.2, "lease_s": 2.0,
                                                                   "views_s": 0.5}})


def create_order(service: ServiceProcess, consignment: str) -> str:
    reply = httpx.post(f"{service.base}/orders", json={"consignments": [consignment], "pickup": "vn_dock_1",
                                                       "drop": "cn_dock_1"},
                       headers={"Authorization": f"Bearer {token_for('dispatcher')}",
                                "Idempotency-Key": consignment}, timeout=10)
    assert reply.status_code in (200, 201), reply.text  # 200: an Idempotency-Key seen before
    return str(reply.json()["id"])


def post_event(service: ServiceProcess, event: dict) -> str:
    reply = httpx.post(f"{service.base}/customs/events", json=event, timeout=10,
                       headers={"Authorization": f"Bearer {token_for('customs:' + event['authority'])}"})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["outcome"])


def follow(service: ServiceProcess) -> list[str]:
    """The lines the process logs, as they come (read on a thread of its own)."""
    assert service.process is not None and service.process.stdout is not None
    lines: list[str] = []
    stream = service.process.stdout
    threading.Thread(target=lambda: lines.extend(line.decode(errors="replace").rstrip() for line in stream),
                     daemon=True).start()
    return lines


def standby_reads(leader: ServiceProcess, standby: ServiceProcess, orders: list[str]) -> None:
    """The standby answers reads from the shared store (orders and audit as committed; vehicles and gates as
    the leader last stored them, their age given) and refuses the rest with a 503 naming the leader."""
    viewer = {"Authorization": f"Bearer {token_for('viewer')}"}

    def read(path: str) -> httpx.Response:
        return httpx.get(standby.base + path, headers=viewer, timeout=10)

    health = httpx.get(f"{standby.base}/health", timeout=10)
    assert health.status_code == 503 and health.json()["role"] == "standby", health.text
    assert (health.json()["node"], health.json()["leader"], health.json()["epoch"]) == ("fm-b", "fm-a", 1)
    assert sorted(o["id"] for o in read("/orders?limit=200").json()["orders"]) == sorted(orders)
    newest = create_order(leader, "VN-FAILOVER0099")  # committed on the leader: the standby reads it at once
    assert read(f"/orders/{newest}").json()["timeline"][0]["to_state"] == "created"
    assert httpx.post(f"{leader.base}/orders/{newest}/cancel", json={"reason": "a standby test"}, timeout=10,
                      headers={"Authorization": f"Bearer {token_for('dispatcher')}"}).status_code == 200
    orders.append(newest)
    vehicles = read("/vehicles")  # the leader stores its views every views_s (0.5 s here)
    assert vehicles.status_code == 200 and vehicles.headers["X-Xborder-Role"] == "standby", vehicles.text
    assert float(vehicles.headers["X-Xborder-Views-Age-S"]) < 0.5 + 2.0, vehicles.headers  # + a loaded machine
    assert sorted(v["id"] for v in vehicles.json()) == sorted(v["id"] for v in leader.get("/vehicles"))
    assert read(f"/vehicles/{vehicles.json()[0]['id']}").json()["id"] == vehicles.json()[0]["id"]
    assert read("/vehicles/agv_999").status_code == 404
    assert sorted(g["id"] for g in read("/gates").json()) == sorted(g["id"] for g in leader.get("/gates"))
    verified = read("/audit/verify").json()
    assert verified["ok"] and verified["head_seq"] == leader.get("/audit/verify")["head_seq"], verified
    assert read("/audit?limit=5").json()["records"][0]["seq"] == 1
    refused = [httpx.post(f"{standby.base}/orders", json={"consignments": ["VN-STANDBY0001"], "pickup": "vn_dock_1",
                                                          "drop": "cn_dock_1"}, timeout=10,
                          headers={"Authorization": f"Bearer {token_for('dispatcher')}"}),
               httpx.post(f"{standby.base}/gates/vn_gate_out_1/hold", json={"reason": "x"}, timeout=10,
                          headers={"Authorization": f"Bearer {token_for('operator')}"}),
               read("/alarms")]  # a read only the leader has
    for reply in refused:
        assert reply.status_code == 503 and reply.headers["Retry-After"] == "1", reply.text
        assert reply.json()["leader"] == "fm-a" and "fm-a (epoch 1)" in reply.json()["detail"], reply.text
    assert read("/orders").status_code == 200 and httpx.get(standby.base + "/orders").status_code == 401


def test_the_standby_serves_after_the_leader_is_killed_and_a_cut_off_leader_stops(tmp_path, key_dir, postgres,
                                                                                   signers):
    """Then the new leader (fm-b, reaching the database through a proxy) is cut off from it: it ends itself
    (exit 75) and fm-a, back as a standby, takes over again."""
    url = postgres.create_database()
    proxy = TcpProxy(postgres.port)
    first = fleet_manager(tmp_path, key_dir, url, "fm-a")
    second = fleet_manager(tmp_path, key_dir, postgres.url(url.rsplit("/", 1)[1], port=proxy.port), "fm-b")
    vn = signers["VN_CUSTOMS"]
    released = [vn.event("released", f"VN-FAILOVER{i:04d}", direction="VN->CN") for i in range(4)]
    try:
        first.start()
        assert httpx.get(f"{first.base}/health").json() == {"status": "ok", "role": "leader", "node": "fm-a",
                                                           "epoch": 1}
        second.launch()
        logged = follow(second)
        orders = [create_order(first, f"VN-FAILOVER{i:04d}") for i in range(4)]
        assert post_event(first, released[0]) == "accepted"  # over HTTP
        # the authority's ZeroMQ link knows both fleet managers; only the leader binds, so it reaches fm-a
        link = AuthorityLink([first.router, second.router], retries=15, keys=LinkKeys.from_files(
            key_dir / "VN_CUSTOMS.curve.key", first.fleet_curve_pub, first.fleet_pub))
        assert link.send(released[1])["outcome"] == "accepted"
        deadline = time.monotonic() + 90  # the standby's start (imports, map, store) on a loaded machine
        while not any("waiting for the leadership" in line for line in logged):
            assert time.monotonic() < deadline, logged
            time.sleep(0.1)
        assert not second.healthy()  # a standby is not healthy: a health check sends traffic to the leader
        standby_reads(first, second, orders)
        first.kill()
        killed = time.monotonic()
        print(f"killed the leader at {time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d}")
        while not second.healthy():
            assert time.monotonic() - killed < 30, "the standby did not take over"
            assert second.process is not None and second.process.poll() is None, logged
            time.sleep(0.05)
        took_over = time.monotonic() - killed
        assert httpx.get(f"{second.base}/health").json()["epoch"] == 2
        listed = second.get("/orders", limit=200)["orders"]
        assert sorted(o["id"] for o in listed) == sorted(orders)  # each once, none lost
        retried = create_order(second, "VN-FAILOVER0000")  # a client's retry after the failover: not twice
        assert retried == orders[0]
        # the same link follows the leader: it resends the event it may not have seen acknowledged, and goes on
        assert [link.send(event)["outcome"] for event in released[1:]] == ["duplicate", "accepted", "accepted"]
        link.close()
        first.launch()  # the old leader comes back: as a standby
        first_logged = follow(first)
        deadline = time.monotonic() + 90
        while not any("waiting for the leadership" in line for line in first_logged):
            assert time.monotonic() < deadline, first_logged
            time.sleep(0.1)
        assert not first.healthy() and second.healthy()
        proxy.cut()  # fm-b loses the database
        cut = time.monotonic()
        assert second.process is not None
        assert second.process.wait(timeout=15) == STEPPED_DOWN_EXIT
        stepped_down = time.monotonic() - cut
        while not first.healthy():
            assert time.monotonic() - cut < 30, first_logged
            time.sleep(0.05)
        back = time.monotonic() - cut
        assert httpx.get(f"{first.base}/health").json()["epoch"] == 3
        assert sorted(o["id"] for o in first.get("/orders", limit=200)["orders"]) == sorted(orders)
        assert first.get("/consignments/VN-FAILOVER0003/clearance")["VN_CUSTOMS"] == "released"
    finally:
        first.stop()
        second.stop()
        proxy.close()
    timeline = [line for line in logged if "leads" in line or "customs ROUTER" in line or "Application startup" in line]
    export = subprocess.run([XBORDER, "audit", "export", "--db", url, "--out", str(tmp_path / "audit.jsonl")],
                            capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
    verified = subprocess.run([XBORDER, "audit", "verify", str(tmp_path / "audit.jsonl")], capture_output=True,
                              text=True)
    assert verified.returncode == 0, verified.stderr
    accepted = [json.loads(line)["body"].get("event_id") for line in (tmp_path / "audit.jsonl").read_text().splitlines()
                if json.loads(line)["kind"] == "event_accepted"]
    assert sorted(accepted) == sorted(e["event_id"] for e in released)  # each event applied once
    print(f"failover: the standby served {took_over:.2f} s after kill -9 of the leader; cut off from the "
          f"database, the next leader exited after {stepped_down:.2f} s and the other served after {back:.2f} s; "
          f"{verified.stdout.strip()}")
    print("\n".join(timeline))
    assert took_over < 10  # the goal is 5 s (measured: about 1 s); room for a loaded CI machine
