"""``issued_at`` is RFC 3339 text with seconds and a zone (docs/customs-protocol.md §2): Unix time as text, a
space for the "T", an offset without its colon, a time without seconds were accepted (pydantic reads them all) and
are now refused with a NACK saying what is wanted — over the real ZeroMQ link and HTTP too. An event the fleet
accepted before, with such text, still counts after a restart."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from fleet.customs.envelope import content_digest
from fleet.customs.gate import Outcome
from fleet.customs.signing import sign_event
from fleet.store import AuditKind, NewEvent
from sim.service_process import token_for
from tests.fleet.conftest import T0
from tests.fleet.test_customs_service import dealer, send, service  # noqa: F401 (the fixture)

C1 = "VN-104512345678"
VN_CN = "VN->CN"
NOW = datetime.fromtimestamp(T0, UTC)
REASON = "malformed: issued_at: Value error, issued_at must be RFC 3339 text with seconds and a zone"

LAX = {  # the forms pydantic reads that RFC 3339 does not have
    "unix time as text": f"{T0:.0f}",
    "unix time with a fraction": f"{T0:.1f}",
    "a space for the T": NOW.strftime("%Y-%m-%d %H:%M:%SZ"),
    "an offset without its colon": NOW.strftime("%Y-%m-%dT%H:%M:%S+0000"),
    "no seconds": NOW.strftime("%Y-%m-%dT%H:%MZ"),
    "a comma before the fraction": NOW.strftime("%Y-%m-%dT%H:%M:%S,5Z"),
}
RFC_3339 = {
    "Z": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "Hanoi's offset": "2026-11-18T07:00:00+07:00",
    "a negative offset": "2026-11-17T20:00:00-03:00",
    "a fraction": NOW.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"),
    "lower case t and z (RFC 3339 §5.6)": NOW.strftime("%Y-%m-%dt%H:%M:%Sz"),
}


def with_issued_at(signer, issued_at: str, kind: str = "released") -> dict:
    fields = {k: v for k, v in signer.event(kind, C1, direction=VN_CN).items() if k != "signature"}
    return sign_event({**fields, "issued_at": issued_at}, signer.key)


@pytest.mark.parametrize("text", LAX.values(), ids=LAX.keys())
def test_issued_at_that_is_not_rfc_3339_is_refused(customs, gate, text):
    result = gate.ingest(with_issued_at(customs.vn, text), "test")
    assert result.outcome == Outcome.REFUSED and result.reason.startswith(REASON), result.reason
    assert repr(text) in result.reason  # what was sent, so the sender sees which field text to fix
    assert gate.clearance_of(C1)["VN_CUSTOMS"] == "pending"


@pytest.mark.parametrize("text", RFC_3339.values(), ids=RFC_3339.keys())
def test_rfc_3339_with_a_zone_is_accepted(customs, gate, text):
    assert gate.ingest(with_issued_at(customs.vn, text), "test").outcome == Outcome.ACCEPTED


def test_an_event_accepted_before_with_lax_issued_at_still_counts_after_a_restart(customs, gate):
    """As the fleet stored such an event when it accepted it: its row and its event_accepted record."""
    event = with_issued_at(customs.vn, LAX["a space for the T"])
    digest = content_digest(event)
    with gate.store.transaction() as conn:
        record = gate.store.append_audits(conn, [(AuditKind.EVENT_ACCEPTED, {
            "event_id": event["event_id"], "authority": "VN_CUSTOMS", "seq": event["seq"], "type": "released",
            "consignment_id": C1, "vehicle_id": None, "digest": digest, "via": "zmq"})])[0]
        gate.store.write_events(conn, [NewEvent(event["event_id"], "VN_CUSTOMS", event["seq"], digest,
                                                json.dumps(event), customs.clock.now, record.seq)])
    gate.store.close()
    again = customs.gate()
    assert again.clearance_of(C1)["VN_CUSTOMS"] == "released"
    assert [m for t, m in customs.published if t == "alarm"] == []
    assert again.verify_replay() == []


def test_lax_issued_at_is_nacked_over_zeromq_and_http(service, signers):  # noqa: F811 (the fixture)
    now = time.time()
    vn, cn = signers["VN_CUSTOMS"], signers["CN_CUSTOMS"]
    sock = dealer(service, "VN_CUSTOMS")
    try:
        for text in (f"{now:.0f}", datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%SZ")):
            reply = send(sock, with_issued_at(vn, text), service.fleet_pub)
            assert reply["status"] == "NACK" and reply["reason"].startswith(REASON), reply
            assert reply["resend"] is False
        good = with_issued_at(vn, datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert send(sock, good, service.fleet_pub)["status"] == "ACK"
    finally:
        sock.close()
    url = f"{service.base}/customs/events"
    headers = {"Authorization": f"Bearer {token_for('customs:CN_CUSTOMS')}"}
    for text in (f"{now:.0f}", datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%SZ")):
        answer = httpx.post(url, json=with_issued_at(cn, text), headers=headers, timeout=30)
        assert answer.status_code == 400 and answer.json()["reason"].startswith(REASON), answer.text
    assert service.get(f"/consignments/{C1}/clearance")["CN_CUSTOMS"] == "pending"
