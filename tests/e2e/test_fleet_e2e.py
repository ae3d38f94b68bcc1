"""End to end with real parts: ``xborder serve``, ``agv_vehicle`` processes over DDS (time-scaled), both customs
authorities over ZeroMQ. Orders go in over HTTP; what is checked comes from the API, the vehicles' reported
positions and the exported audit log, verified by ``xborder audit verify``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import MAP, Deployment, curve_keys, docks, public_keys

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(3600)]

BIN = Path(sys.executable).parent
VN_CN, CN_VN = "VN->CN", "CN->VN"


def simulators(keys: Path, deployment: Deployment, seed: int, consignments: int) -> list[subprocess.Popen]:
    from sim.live import CustomsPlan

    return deployment.system.start_customs(keys, CustomsPlan(consignments, vehicles=5, seed=seed, time_scale=600),
                                           output=subprocess.PIPE)


def settled_consignments(seed: int, count: int) -> list[tuple[str, str]]:
    """The simulators' consignments (both derive them from the seed), each released for good by both."""
    from sim.customs_authority import Profile, build_schedule, consignment_ids

    profile = Profile(consignments=count, vehicles=5, seed=seed)
    final: dict[str, set[str]] = {}
    for authority, side in (("VN_CUSTOMS", "VN"), ("CN_CUSTOMS", "CN")):
        last: dict[str, str] = {}
        for item in build_schedule(authority, side, profile):
            if item.fields.get("consignment_id") and item.fields["type"] in ("released", "revoked"):
                last[item.fields["consignment_id"]] = item.fields["type"]
        for consignment, kind in last.items():
            final.setdefault(consignment, set()).add(kind)
    return [(c, d) for c, d in consignment_ids(profile) if final.get(c) == {"released"}]


@pytest.mark.long
def test_twenty_orders_both_ways_survive_a_kill_of_the_service(deploy, keys):
    deployment = deploy(5, public_keys(keys), link_timeout_s=3600.0, curve_public_keys=curve_keys(keys))
    seed = next(s for s in range(1, 50) if len(settled_consignments(s, 24)) >= 20)
    cargo = settled_consignments(seed, 24)[:20]
    sims = simulators(keys, deployment, seed, 24)
    ids = []
    for i, (consignment, direction) in enumerate(cargo):
        here, there = direction.split("->")
        ids.append(deployment.order([consignment], docks(here)[i % 4], docks(there)[(i + 1) % 4]))
    assert {d for _, d in cargo} == {VN_CN, CN_VN}

    def delivered() -> int:
        return sum(1 for o in deployment.orders() if o["state"] == "delivered")

    assert deployment.wait_for(lambda: delivered() >= 5, 1200), deployment.orders()
    deployment.service.kill()  # SIGKILL mid-run: vehicles drive on their bases, then stop when heartbeats stop
    deployment.service.start()
    assert deployment.wait_for(lambda: delivered() == 20, 2400), \
        [(o["id"], o["state"], o["vehicle_id"]) for o in deployment.orders() if o["state"] != "delivered"]
    for process in sims:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, out

    orders = {o["id"]: deployment.get(f"/orders/{o['id']}") for o in deployment.orders()}
    assert set(orders) == set(ids)
    for order in orders.values():  # each state once, in the lifecycle's order: nothing done twice or skipped
        states = [t["to_state"] for t in order["timeline"]]
        assert states[-5:] == ["awaiting_clearance", "cleared", "crossing", "to_drop", "delivered"] or \
            states[-3:] == ["crossing", "to_drop", "delivered"], states
        assert states.count("crossing") == 1 and states.count("delivered") == 1, states

    export = deployment.workdir / "audit.jsonl"
    reply = httpx.get(deployment.service.base + "/audit/export", headers=deployment.headers("admin"), timeout=30)
    export.write_text(reply.text)
    verified = subprocess.run([str(BIN / "xborder"), "audit", "verify", str(export)], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    import json

    records = [json.loads(line) for line in export.read_text().splitlines() if line.strip()]
    crossed = [tuple(r["body"]["consignments"]) for r in records if r["kind"] == "crossing"]
    assert sorted(filter(None, crossed)) == sorted((c,) for c, _ in cargo)  # every loaded crossing recorded, once
    decisions = {r["seq"]: r for r in records if r["kind"] == "decision"}
    for r in records:
        if r["kind"] == "crossing":  # each (an empty one's too) rests on a recorded decision that allowed it
            decision = decisions[r["body"]["decision_audit_seq"]]["body"]
            assert decision["crossing_allowed"] is True and decision["consignments"] == r["body"]["consignments"]


def test_a_held_consignment_and_a_revoked_vehicle_stay_short_of_the_crossing(deploy, keys):
    from fleet.customs.signing import EventSigner, load_private_key
    deployment = deploy(2, public_keys(keys), link_timeout_s=3600.0, curve_public_keys=curve_keys(keys))
    signers = {name: EventSigner(name, load_private_key(keys / f"{name}.key")) for name in ("VN_CUSTOMS", "CN_CUSTOMS")}
    links = {name: deployment.service.authority_link(keys, name) for name in signers}

    def send(name: str, kind: str, consignment: str | None = None, vehicle: str | None = None) -> None:
        direction = None if consignment is None else VN_CN if consignment.startswith("VN") else CN_VN
        reply = links[name].send(signers[name].event(kind, consignment, vehicle_id=vehicle, direction=direction))
        assert reply["status"] == "ACK", reply

    for name in signers:
        for vehicle in ("agv_001", "agv_002"):
            send(name, "vehicle.authorized", vehicle=vehicle)
        send(name, "released", "VN-700000000001")
        send(name, "released", "CN-700000000002")
    held = deployment.order(["VN-700000000001"], docks("VN")[0], docks("CN")[0])
    other = deployment.order(["CN-700000000002"], docks("CN")[0], docks("VN")[0])
    assert deployment.wait_for(lambda: all(deployment.get(f"/orders/{o}")["state"] == "to_pickup"
                                           for o in (held, other)), 60)
    # held once its vehicle is on the way (a hold before that keeps the container in the yard, unassigned:
    # tests/fleet/dispatch), minutes of driving and loading before it could reach the gate
    send("CN_CUSTOMS", "hold", "VN-700000000001")
    send("VN_CUSTOMS", "vehicle.revoked", vehicle=deployment.get(f"/orders/{other}")["vehicle_id"])
    assert deployment.wait_for(lambda: all(deployment.get(f"/orders/{o}")["state"] == "awaiting_clearance"
                                           for o in (held, other)), 600)
    from fleet.maps import load_corridor

    corridor = load_corridor(MAP)
    border_y = corridor.nodes["border_northbound"].y  # the border runs east-west here: VN south, CN north
    for _ in range(20):  # for a while, by each vehicle's own reported position: on its side, stopped
        for order_id in (held, other):
            order = deployment.get(f"/orders/{order_id}")
            vehicle = deployment.get(f"/vehicles/{order['vehicle_id']}")
            side = order["direction"].split("->")[0]
            assert corridor.nodes[vehicle["last_node"]].jurisdiction == side
            assert (vehicle["y"] < border_y) == (side == "VN"), vehicle
        deployment.wait_for(lambda: False, 1)
    gates = deployment.get("/gates")
    waiting = {w["vehicle_id"]: w for g in gates for w in g["queue"]}
    assert any("hold" in reason for reason in waiting[deployment.get(f"/orders/{held}")["vehicle_id"]]["reasons"])
    send("CN_CUSTOMS", "hold.lifted", "VN-700000000001")
    assert deployment.wait_for(lambda: deployment.get(f"/orders/{held}")["state"] == "delivered", 600)
    assert deployment.get(f"/orders/{other}")["state"] == "awaiting_clearance"  # revoked: never released across
    for link in links.values():
        link.close()
