"""The customs gate's ingestion, refusals and the gate rule, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleet.customs.envelope import format_time
from fleet.customs.gate import Outcome
from fleet.store import StoreError
from tests.fleet.conftest import holding_write_lock

pytestmark = pytest.mark.both_backends  # the store's SQLite file and a PostgreSQL database

C1 = "VN-104512345678"
VN_CN = "VN->CN"


def clear(customs, gate, consignment=C1, direction=VN_CN, vehicle="agv_001"):
    for signer in (customs.vn, customs.cn):
        for kind, payload in (("declaration.accepted", {}), ("channel.assigned", {"channel": "green"}),
                              ("released", {})):
            assert gate.ingest(signer.event(kind, consignment, direction=direction, payload=payload), "test").outcome \
                == Outcome.ACCEPTED
        assert gate.ingest(signer.event("vehicle.authorized", vehicle_id=vehicle), "test").acknowledged


def test_fully_cleared_crossing_is_allowed(customs, gate):
    clear(customs, gate)
    decision = gate.decide("agv_001", VN_CN, [C1])
    assert decision.allowed and decision.reasons == ()
    assert len(decision.relied_on) == 4  # two vehicle authorizations, two releases
    assert gate.clearance_of(C1) == {"VN_CUSTOMS": "released", "CN_CUSTOMS": "released", "direction": VN_CN,
                                     "crossing_allowed": True, "reasons": []}
    assert ("decision", ) == tuple(t for t, _ in customs.published[-1:])


def test_every_failing_condition_is_a_reason(customs, gate):
    gate.ingest(customs.vn.event("declaration.accepted", C1, direction=VN_CN), "test")
    gate.ingest(customs.cn.event("hold", C1, direction=VN_CN), "test")
    gate.ingest(customs.vn.event("vehicle.authorized", vehicle_id="agv_001"), "test")
    customs.clock.now += 42 + 60  # both links silent since
    decision = gate.decide("agv_001", VN_CN, [C1, "CN-00000000X"])
    assert not decision.allowed
    assert set(decision.reasons) == {
        "VN_CUSTOMS link down for 102 s", "CN_CUSTOMS link down for 102 s",
        "CN_CUSTOMS: vehicle agv_001 not authorized",
        f"VN_CUSTOMS: consignment {C1} is declared, not released",
        f"CN_CUSTOMS: consignment {C1} on hold",
        "consignment CN-00000000X is unknown to customs",
        "VN_CUSTOMS: consignment CN-00000000X is pending, not released",
        "CN_CUSTOMS: consignment CN-00000000X is pending, not released",
    }


def test_state_follows_seq_order_not_arrival(customs, gate):
    clear(customs, gate)
    hold = customs.cn.event("hold", C1, direction=VN_CN)
    lifted = customs.cn.event("hold.lifted", C1, direction=VN_CN)
    assert gate.ingest(lifted, "test").outcome == Outcome.ACCEPTED  # arrives first
    assert gate.ingest(hold, "test").outcome == Outcome.ACCEPTED
    assert gate.clearance_of(C1)["CN_CUSTOMS"] == "released"


def test_revoked_stands_until_a_later_release(customs, gate):
    clear(customs, gate)
    gate.ingest(customs.vn.event("revoked", C1, direction=VN_CN), "test")
    assert not gate.decide("agv_001", VN_CN, [C1]).allowed
    gate.ingest(customs.vn.event("released", C1, direction=VN_CN), "test")
    assert gate.decide("agv_001", VN_CN, [C1]).allowed


def test_empty_vehicle_needs_vehicle_conditions_only(customs, gate):
    for signer in (customs.vn, customs.cn):
        gate.ingest(signer.event("vehicle.authorized", vehicle_id="agv_002"), "test")
    assert gate.decide("agv_002", "CN->VN").allowed
    gate.ingest(customs.cn.event("vehicle.revoked", vehicle_id="agv_002"), "test")
    assert gate.decide("agv_002", "CN->VN").reasons == ("CN_CUSTOMS: vehicle agv_002 not authorized",)


def test_duplicate_is_acknowledged_and_ignored(customs, gate):
    event = customs.vn.event("declaration.accepted", C1, direction=VN_CN)
    assert gate.ingest(event, "test").outcome == Outcome.ACCEPTED
    audit_before = len(list(gate.store.audit_records()))
    result = gate.ingest(event, "test")
    assert result.outcome == Outcome.DUPLICATE and result.acknowledged
    assert len(list(gate.store.audit_records())) == audit_before
    assert len(gate.store.events()) == 1


def refused(gate, event, reason_part, alarm=False):
    events_before = len(gate.store.events())
    result = gate.ingest(event, "test")
    assert result.outcome == Outcome.REFUSED and not result.acknowledged
    assert reason_part in result.reason, result.reason
    assert len(gate.store.events()) == events_before  # nothing applied
    kinds = [r.kind for r in gate.store.audit_records()]
    assert kinds[-2:] == ["event_refused", "alarm"] if alarm else kinds[-1] == "event_refused"
    return result


def test_refuses_bad_signature(customs, gate):
    event = customs.vn.event("released", C1, direction=VN_CN)
    event["seq"] += 1000  # changed after signing
    refused(gate, event, "bad signature", alarm=True)


def test_refuses_missing_signature(customs, gate):
    event = customs.vn.event("released", C1, direction=VN_CN)
    del event["signature"]
    refused(gate, event, "missing signature")


def test_refuses_forged_authority(customs, gate, key_dir):
    from fleet.customs.signing import EventSigner, load_private_key

    forger = EventSigner("CN_CUSTOMS", load_private_key(key_dir / "MALLORY.key"))
    refused(gate, forger.event("released", C1, direction=VN_CN), "not signed by CN_CUSTOMS's key", alarm=True)


def test_refuses_unknown_authority(customs, gate, key_dir):
    from fleet.customs.signing import EventSigner, load_private_key

    refused(gate, EventSigner("MALLORY", load_private_key(key_dir / "MALLORY.key")).event("heartbeat"),
            "unknown authority 'MALLORY'")


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("type", "teleported", "type: Input should be"),
    ("consignment_id", "c1; DROP TABLE", "consignment_id: String should match pattern"),
    ("event_id", "not-a-uuid", "event_id: String should match pattern"),
    ("seq", -1, "seq: Input should be greater than or equal to 1"),
    ("issued_at", "yesterday", "issued_at: Value error, issued_at must be RFC 3339 text"),
    ("direction", "VN->LA", "direction VN->LA is not one of"),
    ("vehicle_id", "agv_009", "must be null"),
])
def test_refuses_malformed_fields(customs, gate, field, value, reason):
    fields = {k: v for k, v in customs.vn.event("released", C1, direction=VN_CN).items() if k != "signature"}
    fields[field] = value
    from fleet.customs.signing import sign_event

    refused(gate, sign_event(fields, customs.vn.key), reason)


def test_refuses_channel_without_colour(customs, gate):
    refused(gate, customs.vn.event("channel.assigned", C1, direction=VN_CN, payload={"channel": "blue"}),
            "payload.channel")


def test_refuses_events_from_the_future(customs, gate):
    refused(gate, customs.vn.event("released", C1, direction=VN_CN, issued_at=customs.clock.now + 121),
            "is 121 s in the future")
    assert gate.ingest(customs.vn.event("released", C1, direction=VN_CN, issued_at=customs.clock.now + 119),
                       "test").acknowledged


def test_refuses_conflicting_direction(customs, gate):
    gate.ingest(customs.vn.event("declaration.accepted", C1, direction=VN_CN), "test")
    refused(gate, customs.cn.event("released", C1, direction="CN->VN"), f"consignment {C1} travels VN->CN")


def test_refuses_equivocation_and_raises_an_alarm(customs, gate):
    gate.ingest(customs.vn.event("released", C1, direction=VN_CN, seq=7), "test")
    refused(gate, customs.vn.event("hold", C1, direction=VN_CN, seq=7), "equivocation: VN_CUSTOMS seq 7", alarm=True)
    assert customs.published[-1][0] == "alarm"
    assert gate.clearance_of(C1)["VN_CUSTOMS"] == "released"


def test_equivocation_dated_in_the_future_still_raises_the_alarm(customs, gate):
    gate.ingest(customs.vn.event("released", C1, direction=VN_CN, seq=7), "test")
    refused(gate, customs.vn.event("hold", C1, direction=VN_CN, seq=7, issued_at=customs.clock.now + 3600),
            "equivocation: VN_CUSTOMS seq 7", alarm=True)


def test_refuses_event_id_reuse(customs, gate):
    first = customs.vn.event("declaration.accepted", C1, direction=VN_CN)
    gate.ingest(first, "test")
    refused(gate, customs.vn.event("released", C1, direction=VN_CN, event_id=first["event_id"]), "reused", alarm=True)


def test_refuses_non_json(gate):
    result = gate.ingest(b"\xff{not json", "test")
    assert result.outcome == Outcome.REFUSED and result.reason.startswith("malformed: not JSON")


def test_submitter_may_only_post_its_own_events(customs, gate):
    result = gate.ingest(customs.vn.event("heartbeat"), "http", submitted_by="CN_CUSTOMS")
    assert result.forbidden and result.reason == "CN_CUSTOMS may not post events of VN_CUSTOMS"


def test_restart_recomputes_identical_state(customs, gate):
    clear(customs, gate)
    gate.ingest(customs.cn.event("hold", C1, direction=VN_CN), "test")
    before = (gate.clearance_of(C1), gate.evaluate("agv_001", VN_CN, [C1]), list(gate.store.audit_records()))
    gate.store.close()
    again = customs.gate()
    assert (again.clearance_of(C1), again.evaluate("agv_001", VN_CN, [C1]), list(again.store.audit_records())) \
        == before


def test_event_the_store_could_not_write_is_not_applied_and_its_resend_is(customs, gate):
    """Another process holds the write lock (SQLite's, or PostgreSQL's writer lock): the event is not
    acknowledged and leaves no trace in memory, so the authority's resend is applied (not mistaken for a
    duplicate of an event never stored)."""
    event = customs.vn.event("released", C1, direction=VN_CN)
    with holding_write_lock(customs.db_path), pytest.raises(StoreError, match=r"locked|lock timeout"):
        gate.ingest(event, "test")  # waits out the store's busy timeout (5 s), then gives up
    assert gate.clearance_of(C1)["VN_CUSTOMS"] == "pending" and gate.clearance_of(C1)["direction"] is None
    assert gate.link_ages()["VN_CUSTOMS"] is None
    assert gate.ingest(event, "test").outcome == Outcome.ACCEPTED
    assert gate.clearance_of(C1)["VN_CUSTOMS"] == "released"
    assert [stored.event_id for stored in gate.store.events()] == [event["event_id"]]


def test_decisions_and_crossings_carry_the_injected_clock_time(customs, gate):
    """A simulated day's audit log carries simulated times (both read the machine's clock before)."""
    clear(customs, gate)
    customs.clock.now += 3600.25
    decision = gate.decide("agv_001", VN_CN, [C1])
    gate.record_crossing("agv_001", VN_CN, [C1], decision.audit_seq)
    expected = format_time(datetime.fromtimestamp(customs.clock.now, UTC))
    published = dict(customs.published[-2:])
    assert published["decision"]["decided_at"] == expected
    assert published["crossing"]["at"] == expected
    assert gate.store.latest_audit("crossing", lambda body: True).body["at"] == expected


def test_a_vehicle_authorized_or_revoked_is_published_once_each_flip(customs, gate):
    """The dispatcher takes a release back when one side revokes a vehicle: it hears of it on the bus at once,
    not at its next look at the gate rule (the topic was subscribed to, but nothing published it)."""
    def authorizations():
        return [(m["authority"], m["vehicle_id"], m["authorized"])
                for topic, m in customs.published if topic == "authorization"]

    gate.ingest(customs.cn.event("vehicle.authorized", vehicle_id="agv_002"), "test")
    gate.ingest(customs.cn.event("vehicle.authorized", vehicle_id="agv_002"), "test")  # no change: nothing new
    revoke = customs.cn.event("vehicle.revoked", vehicle_id="agv_002")
    assert gate.ingest(revoke, "test").outcome == Outcome.ACCEPTED
    assert gate.ingest(revoke, "test").outcome != Outcome.ACCEPTED  # the same event again: nothing new either
    assert authorizations() == [("CN_CUSTOMS", "agv_002", True), ("CN_CUSTOMS", "agv_002", False)]
    assert customs.published[-1] == ("authorization", {"vehicle_id": "agv_002", "authority": "CN_CUSTOMS",
                                                       "event_id": revoke["event_id"], "authorized": False})


def test_the_rules_answer_is_kept_until_an_event_comes_or_a_link_could_time_out(customs, gate, monkeypatch):
    """The dispatch loop asks the gate rule about each vehicle bound for the crossing at every tick: the answer is
    worked out again only when what it reads may have changed, never served once it may be stale."""
    import fleet.customs.gate as gate_module

    worked_out = []
    rule = gate_module.gate_rule
    monkeypatch.setattr(gate_module, "gate_rule", lambda *a, **k: worked_out.append(a[0]) or rule(*a, **k))
    clear(customs, gate)
    assert gate.evaluate("agv_001", VN_CN, [C1]).allowed
    customs.clock.now += 60  # both links last heard 60 s ago: live still (down after more than the timeout)
    assert gate.evaluate("agv_001", VN_CN, [C1, C1]).allowed  # (the same question)
    assert worked_out == ["agv_001"]
    customs.clock.now += 0.5
    assert gate.evaluate("agv_001", VN_CN, [C1]).reasons == ("VN_CUSTOMS link down for 60 s",
                                                            "CN_CUSTOMS link down for 60 s")
    gate.ingest(customs.vn.event("heartbeat"), "test")
    gate.ingest(customs.cn.event("hold", C1, direction=VN_CN), "test")
    for _ in range(2):
        assert gate.evaluate("agv_001", VN_CN, [C1]).reasons == (f"CN_CUSTOMS: consignment {C1} on hold",)
    assert len(worked_out) == 3
    gate.ingest(customs.cn.event("hold.lifted", C1, direction=VN_CN), "test")
    assert gate.evaluate("agv_001", VN_CN, [C1]).allowed
    assert gate.evaluate("agv_002", VN_CN).reasons == ("VN_CUSTOMS: vehicle agv_002 not authorized",
                                                       "CN_CUSTOMS: vehicle agv_002 not authorized")
    assert worked_out == ["agv_001"] * 4 + ["agv_002"]


def test_heartbeats_keep_the_rules_answer_as_long_as_they_keep_the_links_live(customs, gate, monkeypatch):
    """A heartbeat changes nothing the rule reads but its link's last_seen (11,520 of them in a simulated day):
    the answer is kept, and served while the heartbeats keep every link live; one that shows a gap is not."""
    import fleet.customs.gate as gate_module

    worked_out = []
    rule = gate_module.gate_rule
    monkeypatch.setattr(gate_module, "gate_rule", lambda *a, **k: worked_out.append(a[0]) or rule(*a, **k))

    def both_beat():
        gate.ingest_many([(customs.vn.event("heartbeat"), None), (customs.cn.event("heartbeat"), None)], "test")

    clear(customs, gate)
    assert gate.evaluate("agv_001", VN_CN, [C1]).allowed
    for _ in range(3):
        customs.clock.now += 45
        both_beat()
        assert gate.evaluate("agv_001", VN_CN, [C1]).allowed
    assert worked_out == ["agv_001"]  # 135 s after it was worked out, with the links live all along
    customs.clock.now += 61
    assert gate.evaluate("agv_001", VN_CN, [C1]).reasons == ("VN_CUSTOMS link down for 61 s",
                                                            "CN_CUSTOMS link down for 61 s")
    both_beat()
    assert gate.evaluate("agv_001", VN_CN, [C1]).allowed
    assert worked_out == ["agv_001"] * 2
    gate.ingest(customs.vn.event("heartbeat", seq=10), "test")  # VN's seqs 1-8 came: 9 is missing
    assert gate.evaluate("agv_001", VN_CN, [C1]).reasons == (
        "VN_CUSTOMS: events missing from its stream (seq 9), resend requested",)
    assert worked_out == ["agv_001"] * 3


@pytest.mark.parametrize("snapshot", [False, True], ids=["replayed", "from_a_snapshot"])
def test_a_release_lets_a_consignment_cross_once_and_a_restart_remembers_it(customs, snapshot):
    """Found by trying it: a consignment that had crossed could cross again on its old release (back, or a second
    time the same way): the gate rule read only that both customs had released it, and the order service's check of
    a consignment booked twice was all that stopped it. A crossing now uses up the releases it was made on, in the
    gate's own state (from the audit log's crossing records: a restart, replayed or from a snapshot, keeps it);
    customs releasing it again lets it cross again."""
    from fleet.customs.gate import CustomsGate
    from fleet.store import Store

    gate = CustomsGate(customs.authorities, Store(customs.db_path), 60.0, clock=customs.clock,
                       snapshot_every=(1, 3600.0) if snapshot else (10_000, 3600.0))
    clear(customs, gate)
    clear(customs, gate, "CN-104512345679", "CN->VN", vehicle="agv_002")
    decision = gate.decide("agv_001", VN_CN, [C1])
    assert decision.allowed
    gate.record_crossing("agv_001", VN_CN, [C1], decision.audit_seq)
    spent = (f"consignment {C1} crossed already on the release of CN_CUSTOMS and VN_CUSTOMS: a release lets a "
             "consignment cross once (customs would release it again)")
    assert gate.evaluate("agv_001", VN_CN, [C1]).reasons == (spent,)
    assert gate.evaluate("agv_002", VN_CN, [C1]).reasons == (spent,)  # another vehicle the same
    assert gate.clearance_of(C1)["reasons"] == [spent] and not gate.clearance_of(C1)["crossing_allowed"]
    assert gate.evaluate("agv_002", "CN->VN", ["CN-104512345679"]).allowed  # others are not touched
    if snapshot:
        gate.ingest(customs.vn.event("heartbeat"), "test")  # (an event after the crossing: a snapshot of it)
    gate.store.close()

    again = customs.gate()
    assert again.evaluate("agv_001", VN_CN, [C1]).reasons == (spent,)
    assert again.verify_replay() == []
    again.ingest(customs.vn.event("released", C1, direction=VN_CN), "test")
    assert again.evaluate("agv_001", VN_CN, [C1]).reasons == (spent.replace("CN_CUSTOMS and VN_CUSTOMS",
                                                                            "CN_CUSTOMS"),)
    again.ingest(customs.cn.event("released", C1, direction=VN_CN), "test")
    assert again.evaluate("agv_001", VN_CN, [C1]).allowed
