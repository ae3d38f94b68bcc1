"""The customs HTTP routes at their edge (FastAPI TestClient over a real gate and SQLite file): bad query
input gets a clear 422 and records nothing; a refused post is audited and changes nothing."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from fleet.api.main import create_app
from fleet.config import Settings
from fleet.services import build_services

VIEWER = "viewer-token-0123456789"
VN_TOKEN = "vn-customs-token-0123456789"


@pytest.fixture
def services(customs, key_dir):
    settings = Settings.model_validate({
        "store": {"path": str(customs.db_path)},
        "fleet": {"link": "inprocess"},
        "customs": {"zmq": {"router": "tcp://127.0.0.1:*", "pub": "tcp://127.0.0.1:*"}, "authorities": {
            name: {"public_key": (key_dir / f"{name}.pub").read_text().strip(), "side": name[:2]}
            for name in ("VN_CUSTOMS", "CN_CUSTOMS")}},
        "auth": {"tokens": [{"token": VIEWER, "role": "viewer"},
                            {"token": VN_TOKEN, "role": "customs:VN_CUSTOMS"}]}})
    services = build_services(settings, clock=customs.clock)
    yield services
    services.close()


@pytest.fixture
def gate(services):
    return services.gate


@pytest.fixture
def client(services):
    with TestClient(create_app(services)) as test_client:
        yield test_client


def audit_count(gate) -> int:
    return len(list(gate.store.audit_records()))


def test_malformed_consignment_id_in_clearance_query_is_422(client, gate):
    reply = client.get("/api/v1/consignments/not-an-id/clearance", headers={"Authorization": f"Bearer {VIEWER}"})
    assert reply.status_code == 422
    assert "consignment_id" in json.dumps(reply.json())


def test_malformed_consignment_in_crossing_query_is_422_and_no_decision(client, gate):
    before = audit_count(gate)
    reply = client.get("/api/v1/vehicles/agv_001/crossing", headers={"Authorization": f"Bearer {VIEWER}"},
                       params={"direction": "VN->CN", "consignments": "VN-000000000001,bogus"})
    assert reply.status_code == 422
    assert "bogus" in reply.json()["detail"] and "VN-000000000001" not in reply.json()["detail"]
    assert audit_count(gate) == before


def test_crossing_query_answers_with_every_reason_and_writes_nothing(client, customs, gate):
    """Finding 9: a read recorded and published a decision, so viewers could grow the audit log at will."""
    c = "VN-000000000001"
    for signer in (customs.vn, customs.cn):
        gate.ingest(signer.event("vehicle.authorized", vehicle_id="agv_001"), via="test")
    gate.ingest(customs.vn.event("released", c, direction="VN->CN"), via="test")
    before, published = audit_count(gate), len(customs.published)
    for _ in range(20):
        reply = client.get("/api/v1/vehicles/agv_001/crossing", headers={"Authorization": f"Bearer {VIEWER}"},
                           params={"direction": "VN->CN", "consignments": c})
        assert reply.status_code == 200
    assert reply.json()["crossing_allowed"] is False
    assert reply.json()["reasons"] == [f"CN_CUSTOMS: consignment {c} is pending, not released"]
    assert audit_count(gate) == before and len(customs.published) == published


def test_refused_post_is_audited_and_changes_nothing(client, customs, gate):
    c = "VN-000000000002"
    event = customs.vn.event("released", c, direction="VN->CN")
    event["seq"] += 1  # the signature no longer covers the content
    before = audit_count(gate)
    reply = client.post("/api/v1/customs/events", json=event,
                        headers={"Authorization": f"Bearer {VN_TOKEN}"})
    assert reply.status_code == 400 and reply.json()["status"] == "NACK"
    assert "bad signature" in reply.json()["reason"]
    assert gate.clearance_of(c)["VN_CUSTOMS"] == "pending"
    kinds = [r.kind for r in list(gate.store.audit_records())[before:]]
    assert kinds == ["event_refused", "alarm"]
