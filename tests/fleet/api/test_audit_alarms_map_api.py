"""The audit log (pages, export, verify), alarms (list, acknowledge), the map and the metrics over HTTP."""

from __future__ import annotations

import json

import sqlalchemy as sa

from fleet.alarms import AlarmKind
from fleet.store import verify_chain
from fleet.store.schema import audit_log
from tests.fleet.api.conftest import auth

VIEWER, OPERATOR = auth("viewer"), auth("operator")


def fill_audit(services, n: int) -> None:
    for i in range(n):
        services.store.audit("test", {"i": i})


def test_audit_pages_from_after(client, services):
    fill_audit(services, 25)
    head = services.store.audit_head[0]
    first = client.get("/api/v1/audit", params={"limit": 10}, headers=VIEWER).json()
    assert [r["seq"] for r in first["records"]] == list(range(1, 11))
    assert first["head_seq"] == head and first["next_after"] == 10
    last = client.get("/api/v1/audit", params={"after": head - 3, "limit": 10}, headers=VIEWER).json()
    assert len(last["records"]) == 3 and last["next_after"] is None
    assert client.get("/api/v1/audit", params={"limit": 0}, headers=VIEWER).status_code == 422


def test_audit_pages_of_some_kinds(client, services):
    """An auditor reads the gate decisions and crossings without paging through every accepted event and alarm;
    a kind the log does not have is refused with the kinds it has, not ignored."""
    for i in range(6):
        services.store.audit("decision" if i % 3 == 0 else "event_accepted", {"i": i})
    services.alarms.raise_alarm(AlarmKind.VEHICLE_OFFLINE, "agv_002", "no state for 30 s")
    services.store.audit("crossing", {"i": 6})
    every = client.get("/api/v1/audit", params={"limit": 1000}, headers=VIEWER).json()["records"]
    chosen = [r["seq"] for r in every if r["kind"] in ("decision", "crossing")]
    assert len(chosen) == 3
    page = client.get("/api/v1/audit", params={"kind": ["decision", "crossing"], "limit": 2},
                      headers=auth("customs:VN_CUSTOMS")).json()
    assert [r["seq"] for r in page["records"]] == chosen[:2] and page["next_after"] == chosen[1]
    rest = client.get("/api/v1/audit", params={"kind": ["decision", "crossing"], "after": page["next_after"]},
                      headers=VIEWER).json()
    assert [r["seq"] for r in rest["records"]] == chosen[2:] and rest["next_after"] is None
    alarms = client.get("/api/v1/audit", params={"kind": "alarm"}, headers=VIEWER).json()["records"]
    assert [r["body"]["kind"] for r in alarms] == ["vehicle_offline"]
    refused = client.get("/api/v1/audit", params={"kind": "gate_decision"}, headers=VIEWER)
    assert refused.status_code == 422 and "decision" in refused.text


def test_export_verifies_offline_and_verify_finds_an_edit(client, services):
    fill_audit(services, 5)
    export = client.get("/api/v1/audit/export", headers=auth("customs:CN_CUSTOMS"))
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
    lines = export.text.splitlines()
    assert len(lines) == services.store.audit_head[0] and verify_chain(lines) == []
    assert client.get("/api/v1/audit/verify", headers=VIEWER).json()["ok"] is True
    with services.store.transaction() as conn:  # an attacker with the file drops the guard first
        conn.execute(sa.text("DROP TRIGGER audit_log_no_update"))
        conn.execute(audit_log.update().where(audit_log.c.seq == 3).values(body=json.dumps({"i": 99})))
    verdict = client.get("/api/v1/audit/verify", headers=VIEWER).json()
    assert verdict["ok"] is False and any("record 3 was edited" in p for p in verdict["problems"])


def test_alarms_listed_and_acknowledged(client, services):
    low = services.alarms.raise_alarm(AlarmKind.LOW_BATTERY, "agv_001", "battery 12%")
    services.alarms.raise_alarm(AlarmKind.VEHICLE_OFFLINE, "agv_002", "no state for 30 s")
    listed = client.get("/api/v1/alarms", params={"open": True}, headers=VIEWER).json()
    assert listed["total"] == 2 and {a["kind"] for a in listed["alarms"]} == {"low_battery", "vehicle_offline"}
    reply = client.post(f"/api/v1/alarms/{low.id}/acknowledge", headers=OPERATOR)
    assert reply.status_code == 200 and reply.json()["acknowledged_by"] == "operator"
    assert client.get("/api/v1/alarms", params={"open": True}, headers=VIEWER).json()["total"] == 1
    assert client.get("/api/v1/alarms", headers=VIEWER).json()["total"] == 2
    assert client.post("/api/v1/alarms/9999/acknowledge", headers=OPERATOR).status_code == 404
    assert client.post("/api/v1/alarms/x/acknowledge", headers=OPERATOR).status_code == 422


def test_map_is_the_corridor_geojson(client, services):
    geojson = client.get("/api/v1/map", headers=VIEWER).json()
    assert geojson["type"] == "FeatureCollection" and geojson["name"] == services.corridor.name
    ids = {f["properties"].get("id") for f in geojson["features"]}
    assert set(services.corridor.nodes) <= ids


def test_metrics(client, services, docks):
    order = client.post("/api/v1/orders", headers=auth("dispatcher"),
                        json={"consignments": ["VN-MET000000001"], "pickup": docks["VN"][0], "drop": docks["CN"][0]})
    assert order.status_code == 201
    services.gate.ingest(b"not json", via="test")  # one refused customs event
    services.bus.publish("crossing", {"direction": "VN->CN", "vehicle_id": "agv_001"})
    text = client.get("/metrics").text
    assert 'xborder_customs_events_total{outcome="refused"} 1.0' in text
    assert 'xborder_crossings_total{direction="VN->CN"} 1.0' in text
    assert 'xborder_orders{state="cancelled"} 0.0' in text
    with services.store.reading() as conn:
        n_orders = conn.execute(sa.text("select count(*) from orders")).scalar_one()
    assert sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("xborder_orders{")) == n_orders == 1
    assert "xborder_vehicles{" in text and "xborder_dispatch_tick_seconds{" in text
    assert "xborder_planner_seconds{" in text and "xborder_gate_wait_seconds_bucket" in text
    assert "xborder_clearance_release_seconds_bucket" in text


def test_gate_wait_is_the_time_an_order_awaited_clearance(services):
    """From its gate to cleared (released past it), again after a clearance lost on the way to the border line;
    not the drive from the gate to the line (before the ``cleared`` state, that was counted too)."""
    from fleet.api.metrics import FleetMetrics

    metrics = FleetMetrics(services)
    for order_id, moves in {"o1": [("loaded", "awaiting_clearance", 100.0), ("awaiting_clearance", "cleared", 130.0),
                                   ("cleared", "crossing", 400.0)],
                            "o2": [("loaded", "awaiting_clearance", 100.0), ("awaiting_clearance", "cleared", 110.0),
                                   ("cleared", "awaiting_clearance", 200.0), ("awaiting_clearance", "cleared", 250.0),
                                   ("cleared", "crossing", 300.0)],
                            "o3": [("loaded", "crossing", 140.0)]}.items():
        for before, to, at in moves:
            services.bus.publish("order", {"order_id": order_id, "from": before, "to": to, "at": at})
    text = metrics.render().decode()
    metrics.close()
    assert "xborder_gate_wait_seconds_count 3.0" in text and "xborder_gate_wait_seconds_sum 90.0" in text
