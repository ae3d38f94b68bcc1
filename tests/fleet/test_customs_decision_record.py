"""A gate decision's audit record reads on its own: each authority's status of the vehicle and of each consignment
aboard that the decision read, with the event id and seq it rests on (an officer of either customs need not look
the ids up), and an export with records from before that field still verifies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.store import AuditKind, verify_chain

pytestmark = pytest.mark.both_backends

XBORDER = str(Path(sys.executable).with_name("xborder"))
C1, C2 = "VN-104512345678", "VN-104587654321"
VN_CN = "VN->CN"


def sent(gate, event: dict) -> dict:
    assert gate.ingest(event, "test").acknowledged
    return event


def latest_decision(gate) -> dict:
    return [r for r in gate.store.audit_records() if r.kind == AuditKind.DECISION][-1].body


def entry(event: dict | None, status: str) -> dict:
    return {"status": status, "event_id": event and event["event_id"], "seq": event and event["seq"]}


def test_a_decision_record_names_each_authoritys_status_with_its_event_and_seq(customs, gate):
    vn_ok = sent(gate, customs.vn.event("vehicle.authorized", vehicle_id="agv_001"))
    sent(gate, customs.vn.event("declaration.accepted", C1, direction=VN_CN))
    vn_released = sent(gate, customs.vn.event("released", C1, direction=VN_CN))
    cn_revoked = sent(gate, customs.cn.event("vehicle.revoked", vehicle_id="agv_001"))
    sent(gate, customs.cn.event("released", C1, direction=VN_CN))
    cn_hold = sent(gate, customs.cn.event("hold", C1, direction=VN_CN))

    decision = gate.decide("agv_001", VN_CN, [C1, C2])

    body = latest_decision(gate)
    assert body["clearances"] == {
        "VN_CUSTOMS": {"vehicle": entry(vn_ok, "authorized"),
                       "consignments": {C1: entry(vn_released, "released"), C2: entry(None, "pending")}},
        "CN_CUSTOMS": {"vehicle": entry(cn_revoked, "revoked"),
                       "consignments": {C1: entry(cn_hold, "hold"), C2: entry(None, "pending")}},
    }
    assert body["relied_on"] == [vn_ok["event_id"], cn_revoked["event_id"], vn_released["event_id"],
                                 cn_hold["event_id"]]  # as before
    published = [m for t, m in customs.published if t == "decision"][-1]
    assert published["clearances"] == body["clearances"] and published["audit_seq"] == decision.audit_seq


def test_a_vehicle_no_authority_spoke_of_is_pending(customs, gate):
    gate.decide("agv_009", VN_CN, [])
    assert latest_decision(gate)["clearances"] == {
        name: {"vehicle": entry(None, "pending"), "consignments": {}} for name in ("VN_CUSTOMS", "CN_CUSTOMS")}


def test_the_record_does_not_grow_with_the_consignments_history(customs, gate):
    for signer in (customs.vn, customs.cn):
        sent(gate, signer.event("vehicle.authorized", vehicle_id="agv_001"))
        sent(gate, signer.event("released", C1, direction=VN_CN))
    gate.decide("agv_001", VN_CN, [C1])
    short = len(json.dumps(latest_decision(gate)))
    for _ in range(60):
        for kind in ("hold", "hold.lifted"):
            sent(gate, customs.cn.event(kind, C1, direction=VN_CN))
    gate.decide("agv_001", VN_CN, [C1])
    assert len(json.dumps(latest_decision(gate))) <= short + 2  # a seq of three digits instead of one


def test_an_export_with_decisions_from_before_the_field_verifies(customs, gate, tmp_path):
    for signer in (customs.vn, customs.cn):
        sent(gate, signer.event("vehicle.authorized", vehicle_id="agv_001"))
        sent(gate, signer.event("released", C1, direction=VN_CN))
    old = {"vehicle_id": "agv_001", "direction": VN_CN, "consignments": [C1], "crossing_allowed": True,
           "reasons": [], "relied_on": []}
    gate.store.audit(AuditKind.DECISION, old)  # as the fleet recorded a decision before it named the statuses
    gate.decide("agv_001", VN_CN, [C1])
    gate.store.close()
    out = tmp_path / "audit.jsonl"
    done = subprocess.run([XBORDER, "audit", "export", "--db", str(customs.db_path), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    decisions = [json.loads(line)["body"] for line in lines if json.loads(line)["kind"] == "decision"]
    assert "clearances" not in decisions[0] and decisions[1]["clearances"]["CN_CUSTOMS"]["consignments"][C1][
        "status"] == "released"
    assert verify_chain(lines) == []
    verified = subprocess.run([XBORDER, "audit", "verify", str(out)], capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0 and f"intact: {len(lines)} records" in verified.stdout
