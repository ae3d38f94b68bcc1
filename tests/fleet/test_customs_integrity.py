"""Issue 12, findings 2, 3 and 5: replay trusts nothing stored, the audit log is anchored by signed
checkpoints the authorities keep, and a gap in an authority's stream denies."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.customs.checkpoints import check_export, checked_checkpoint
from fleet.customs.envelope import content_digest
from fleet.customs.gate import CustomsGate, Outcome
from fleet.customs.signing import generate_keys, load_private_key, parse_public_key, sign_event
from fleet.store import Store, verify_chain
from fleet.store.audit import GENESIS, AuditRecord, record_hash

XBORDER = str(Path(sys.executable).with_name("xborder"))
C1 = "VN-104512345678"
VN_CN = "VN->CN"
INSERT_ROW = "INSERT INTO customs_events (event_id, authority, seq, digest, raw, received_at) VALUES (?,?,?,?,?,?)"


def clear(customs, gate, consignment=C1):
    for signer in (customs.vn, customs.cn):
        for kind in ("declaration.accepted", "released"):
            assert gate.ingest(signer.event(kind, consignment, direction=VN_CN), "t").outcome == Outcome.ACCEPTED
        assert gate.ingest(signer.event("vehicle.authorized", vehicle_id="agv_001"), "t").acknowledged


# --- sequence gaps (finding 5) ---------------------------------------------------------------------------------

def test_a_withheld_hold_denies_and_asks_for_a_resend(customs, gate):
    """VN released (seq 3), hold (seq 4) withheld, heartbeat (seq 5) delivered: was crossing_allowed true."""
    clear(customs, gate)  # VN seqs 1-3
    hold = customs.vn.event("hold", C1, direction=VN_CN)  # seq 4: an on-path attacker drops it
    assert gate.ingest(customs.vn.event("heartbeat"), "t").outcome == Outcome.ACCEPTED  # seq 5
    decision = gate.evaluate("agv_001", VN_CN, [C1])
    assert not decision.allowed
    assert decision.reasons == ("VN_CUSTOMS: events missing from its stream (seq 4), resend requested",)
    assert ("resend", {"authority": "VN_CUSTOMS", "missing": [[4, 4]]}) in customs.published
    assert gate.evaluate("agv_001", VN_CN).allowed is False  # an empty vehicle too
    assert gate.ingest(hold, "t").outcome == Outcome.ACCEPTED  # resent: the gap closes, the hold applies
    assert gate.evaluate("agv_001", VN_CN, [C1]).reasons == (f"VN_CUSTOMS: consignment {C1} on hold",)


def test_gaps_survive_a_restart_and_a_signed_refusal_is_no_gap(customs, gate):
    clear(customs, gate)
    bad_direction = customs.vn.event("released", C1, direction="CN->VN")  # seq 4, signed, refused
    assert gate.ingest(bad_direction, "t").outcome == Outcome.REFUSED
    customs.vn.event("heartbeat")  # seq 5 never delivered
    gate.ingest(customs.vn.event("heartbeat"), "t")  # seq 6
    assert gate.link_health()["VN_CUSTOMS"]["missing_seqs"] == [[5, 5]]
    gate.store.close()
    again = customs.gate()
    assert again.link_health()["VN_CUSTOMS"]["missing_seqs"] == [[5, 5]]


# --- replay trusts nothing stored (finding 2) --------------------------------------------------------------------

def test_rows_inserted_behind_the_fleets_back_are_not_applied_and_raise_an_alarm(customs, gate):
    """Two rows with a junk signature inserted into customs_events turned a held consignment's crossing on."""
    clear(customs, gate)
    gate.ingest(customs.cn.event("hold", C1, direction=VN_CN), "t")
    gate.store.close()
    db = sqlite3.connect(customs.db_path, isolation_level=None)
    for seq, kind in ((90, "hold.lifted"), (91, "released")):
        raw = customs.cn.event(kind, C1, direction=VN_CN, seq=seq)
        raw["signature"] = "AAAA" + raw["signature"][4:]
        db.execute(INSERT_ROW,
                   (raw["event_id"], "CN_CUSTOMS", seq, "0" * 64, json.dumps(raw), customs.clock.now))
    db.close()
    again = customs.gate()
    assert again.clearance_of(C1)["CN_CUSTOMS"] == "hold"
    alarms = [body for topic, body in customs.published if topic == "alarm"]
    assert len(alarms) == 2 and all("signature does not verify" in a["reason"] for a in alarms)
    assert [r.kind for r in again.store.audit_records()][-2:] == ["alarm", "alarm"]


def test_a_row_inserted_at_a_seq_to_come_does_not_stand_in_for_the_real_event(customs, gate):
    """A junk row inserted at a seq the authority has not reached yet: not applied at the restart (an alarm), and
    when the authority's real event with that seq comes, it takes the row's place. Before, the real event was
    refused as an equivocation (the junk row held its seq), with an alarm blaming the authority."""
    clear(customs, gate)
    gate.store.close()
    junk = customs.cn.event("hold.lifted", C1, direction=VN_CN, seq=90)
    junk["signature"] = "AAAA" + junk["signature"][4:]
    db = sqlite3.connect(customs.db_path, isolation_level=None)
    db.execute(INSERT_ROW, (junk["event_id"], "CN_CUSTOMS", 90, "0" * 64, json.dumps(junk), customs.clock.now))
    db.close()
    again = customs.gate()
    real = customs.cn.event("hold", C1, direction=VN_CN, seq=90)
    result = again.ingest(real, "t")
    assert result.outcome == Outcome.ACCEPTED, result
    assert again.clearance_of(C1)["CN_CUSTOMS"] == "hold"


def test_an_accepted_event_deleted_from_the_table_raises_an_alarm_and_its_seq_denies(customs, gate):
    """The other way round: the audit log says a hold was accepted, its row is gone. Replay used to apply what
    was left (the consignment released) and say nothing."""
    clear(customs, gate)
    hold = customs.cn.event("hold", C1, direction=VN_CN)
    gate.ingest(hold, "t")
    gate.store.close()
    db = sqlite3.connect(customs.db_path, isolation_level=None)
    db.execute("DELETE FROM customs_events WHERE event_id = ?", (hold["event_id"],))
    db.close()
    again = customs.gate()
    assert f"event {hold['event_id']} was accepted, but it is not stored" in \
        [b for t, b in customs.published if t == "alarm"][-1]["reason"]
    again.ingest(customs.cn.event("heartbeat"), "t")  # the authority's next event shows the hole
    assert again.evaluate("agv_001", VN_CN, [C1]).reasons == (
        f"CN_CUSTOMS: events missing from its stream (seq {hold['seq']}), resend requested",)
    assert again.ingest(hold, "t").outcome == Outcome.ACCEPTED  # the authority resends it: the hold is back
    assert again.evaluate("agv_001", VN_CN, [C1]).reasons == (f"CN_CUSTOMS: consignment {C1} on hold",)


@pytest.mark.parametrize(("digest_too", "snapshot_between", "unreadable"),
                         [(False, False, False), (True, False, False), (False, True, False), (False, False, True)],
                         ids=["text", "text-and-digest", "restarted-from-a-snapshot-since", "text-no-parser-reads"])
def test_an_accepted_event_edited_in_the_table_is_put_right_by_its_resend(customs, gate, digest_too,
                                                                          snapshot_between, unreadable):
    """A hold's stored row edited behind the fleet's back (its text made a lift, and its digest column to match,
    or not): the replay does not apply it, says so, and its seq denies every crossing of that authority until the
    authority resends it. Found by trying it: the resend was answered "duplicate" (the stored digest matched) or
    refused as an event_id reused (the edited digest did not), and never applied: the gap stayed, every crossing
    of the authority denied for good. Now a resend takes the place of a stored row the replay could not apply:
    applied, the row put right (the next restart applies it), the audit record saying which row it replaced and
    keeping its text as it was stored (one no JSON parser reads too: before, that was kept as "null")."""
    clear(customs, gate)
    hold = customs.cn.event("hold", C1, direction=VN_CN)
    assert gate.ingest(hold, "t").outcome == Outcome.ACCEPTED
    gate.store.close()
    edited = dict(hold, type="hold.lifted")
    text = json.dumps(edited)[:-7] if unreadable else json.dumps(edited)
    db = sqlite3.connect(customs.db_path, isolation_level=None)
    db.execute("UPDATE customs_events SET raw = ? WHERE event_id = ?", (text, hold["event_id"]))
    if digest_too:
        db.execute("UPDATE customs_events SET digest = ? WHERE event_id = ?",
                   (content_digest(edited), hold["event_id"]))
    db.close()
    again = customs.gate()
    alarms = [b for t, b in customs.published if t == "alarm"]
    assert f"stored event {hold['event_id']} not applied" in alarms[-1]["reason"], alarms
    if snapshot_between:  # a snapshot taken since, with the gap in it (one event short of the rows stored: the next
        again._snapshot()  # restart does not use it, and replays every row again), and a restart
        again.store.close()
        again = customs.gate()
    again.ingest(customs.cn.event("heartbeat"), "t")
    assert again.evaluate("agv_001", VN_CN, [C1]).reasons == (
        f"CN_CUSTOMS: events missing from its stream (seq {hold['seq']}), resend requested",)
    result = again.ingest(hold, "t")  # the authority resends it
    assert result.outcome == Outcome.ACCEPTED, result
    assert again.evaluate("agv_001", VN_CN, [C1]).reasons == (f"CN_CUSTOMS: consignment {C1} on hold",)
    accepted = [r.body for r in again.store.audit_records() if r.kind == "event_accepted"
                and r.body["event_id"] == hold["event_id"]]
    assert len(accepted) == 2 and accepted[-1].get("replaced_stored_row"), accepted
    assert accepted[-1]["replaced_text"] == [text]  # the edited text, as evidence
    again.store.close()
    customs.published.clear()
    restarted = customs.gate()  # the row was put right: the replay applies it, with nothing to say
    assert not [b for t, b in customs.published if t == "alarm"], customs.published
    assert restarted.evaluate("agv_001", VN_CN, [C1]).reasons == (f"CN_CUSTOMS: consignment {C1} on hold",)
    assert restarted.verify_replay() == []


@pytest.mark.parametrize("names_a_record", [False, True])
def test_rows_inserted_after_a_snapshot_are_not_applied_either(customs, names_a_record):
    """With a clearance snapshot a restart reads only the rows after it: an inserted row is still caught,
    whether it names no audit record or an old one (then the snapshot's event count disagrees)."""
    gate = CustomsGate(customs.authorities, Store(customs.db_path), 60.0, clock=customs.clock,
                       publish=lambda topic, message: customs.published.append((topic, message)),
                       snapshot_every=(1, 3600.0))
    clear(customs, gate)
    gate.ingest(customs.cn.event("hold", C1, direction=VN_CN), "t")
    gate.store.close()
    lifted = customs.cn.event("hold.lifted", C1, direction=VN_CN)
    db = sqlite3.connect(customs.db_path, isolation_level=None)
    db.execute("INSERT INTO customs_events (event_id, authority, seq, digest, raw, received_at, audit_seq) "
               "VALUES (?,?,?,?,?,?,?)", (lifted["event_id"], "CN_CUSTOMS", lifted["seq"], content_digest(lifted),
                                          json.dumps(lifted), customs.clock.now, 1 if names_a_record else None))
    db.close()
    again = customs.gate()
    assert again.clearance_of(C1)["CN_CUSTOMS"] == "hold"
    alarms = [b["reason"] for t, b in customs.published if t == "alarm"]
    assert any("no matching event_accepted record" in a for a in alarms), alarms
    assert any("snapshot" in a and "stored events" in a for a in alarms) == names_a_record


def test_a_correctly_signed_row_without_its_audit_record_is_not_applied(customs, gate):
    """Someone holding a captured event inserts it directly: it verifies, but the fleet never accepted it."""
    clear(customs, gate)
    captured = customs.cn.event("hold", C1, direction=VN_CN)
    gate.store.close()
    db = sqlite3.connect(customs.db_path, isolation_level=None)
    db.execute(INSERT_ROW, (captured["event_id"], "CN_CUSTOMS",
               captured["seq"], content_digest(captured), json.dumps(captured), customs.clock.now))
    db.close()
    again = customs.gate()
    assert again.clearance_of(C1)["CN_CUSTOMS"] == "released"
    assert "no matching event_accepted record" in [b for t, b in customs.published if t == "alarm"][-1]["reason"]


def test_a_dropped_trigger_is_reported_not_silently_recreated(customs, gate, tmp_path):
    clear(customs, gate)
    gate.store.close()
    db = sqlite3.connect(customs.db_path, isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE seq = 2")
    db.close()
    out = tmp_path / "a.jsonl"
    export = subprocess.run([XBORDER, "audit", "export", "--db", str(customs.db_path), "--out", str(out)],
                            capture_output=True, text=True)
    assert export.returncode == 0 and "audit_log_no_delete has been dropped" in export.stderr
    probe = sqlite3.connect(customs.db_path)
    assert probe.execute("SELECT count(*) FROM sqlite_master WHERE name = 'audit_log_no_delete'").fetchone() == (0,)
    probe.close()
    customs.gate().store.close()
    assert any("audit_log_no_delete has been dropped" in b["reason"] for t, b in customs.published if t == "alarm")
    probe = sqlite3.connect(customs.db_path)  # starting the service did not re-create it either
    assert probe.execute("SELECT count(*) FROM sqlite_master WHERE name = 'audit_log_no_delete'").fetchone() == (0,)
    probe.close()



# --- anchored audit (finding 3) -------------------------------------------------------------------------------

@pytest.fixture
def fleet_keys(tmp_path):
    return generate_keys("fleet", tmp_path / "fleet-keys")


@pytest.fixture
def anchored(customs, fleet_keys):
    """A gate that signs a checkpoint every 3 audit records; the authority keeps what it is sent."""
    gate = CustomsGate(customs.authorities, Store(customs.db_path), 60.0, clock=customs.clock,
                       publish=lambda topic, message: customs.published.append((topic, message)),
                       signing_key=load_private_key(fleet_keys[0]), checkpoint_every=(3, 3600.0))
    kept = []
    for i in range(4):
        c = f"VN-10450000000{i}"
        for signer in (customs.vn, customs.cn):
            reply = gate.ingest(signer.event("declaration.accepted", c, direction=VN_CN), "t").as_dict()
            kept.append(reply["checkpoint"])
    gate.ingest(b"garbage", "t")
    kept += [m["checkpoint"] for t, m in customs.published if t == "checkpoint"]
    lines = [r.to_json() for r in gate.store.audit_records()]
    return gate, lines, kept


def rehash_from_genesis(records: list[dict]) -> list[str]:
    """What an attacker with the database does: renumber and re-hash so the chain verifies again."""
    out, prev = [], GENESIS
    for seq, r in enumerate(records, start=1):
        digest = record_hash(seq, r["recorded_at"], r["kind"], r["body"], prev)
        out.append(AuditRecord(seq, r["recorded_at"], r["kind"], r["body"], prev, digest).to_json())
        prev = digest
    return out


def heads(lines: list[str]) -> dict[int, str]:
    return {json.loads(line)["seq"]: json.loads(line)["hash"] for line in lines}


def test_checkpoints_are_signed_sent_in_acks_and_published(anchored, fleet_keys):
    _gate, lines, kept = anchored
    key = parse_public_key(fleet_keys[1].read_text())
    assert {checked_checkpoint(c, [key])[0] for c in kept} >= {3, 6}
    assert check_export(heads(lines), kept, [key]) == []


@pytest.mark.parametrize("attack", ["truncate", "delete_and_rehash", "edit_and_rehash"])
def test_checkpoints_catch_what_the_chain_alone_cannot(anchored, fleet_keys, attack):
    _gate, lines, kept = anchored
    records = [json.loads(line) for line in lines]
    if attack == "truncate":
        forged = lines[:4]
    elif attack == "delete_and_rehash":
        forged = rehash_from_genesis(records[:1] + records[2:])
    else:
        records[1]["body"]["type"] = "hold"
        forged = rehash_from_genesis(records)
    assert verify_chain(forged) == []  # the chain alone says intact: this was the finding
    problems = check_export(heads(forged), kept, [parse_public_key(fleet_keys[1].read_text())])
    assert problems and all("truncated" in p or "rewritten" in p for p in problems), problems


def test_audit_verify_command_with_checkpoints(anchored, fleet_keys, tmp_path):
    _gate, lines, kept = anchored
    export, ck = tmp_path / "audit.jsonl", tmp_path / "kept.jsonl"
    ck.write_text("".join(json.dumps(c) + "\n" for c in kept))
    command = [XBORDER, "audit", "verify", str(export), "--checkpoint", str(ck), "--fleet-key", str(fleet_keys[1])]
    export.write_text("\n".join(lines) + "\n")
    ok = subprocess.run(command, capture_output=True, text=True)
    assert ok.returncode == 0 and "consistent with 1 checkpoint file" in ok.stdout, ok.stderr
    export.write_text("\n".join(lines[:4]) + "\n")
    bad = subprocess.run(command, capture_output=True, text=True)
    assert bad.returncode == 1 and "truncated" in bad.stderr
    record = json.loads(lines[0])
    record["seq"] = "1"
    export.write_text(json.dumps(record) + "\n")
    odd = subprocess.run(command, capture_output=True, text=True)  # was a TypeError traceback
    assert odd.returncode == 1 and "wrong type for ['seq']" in odd.stderr and "Traceback" not in odd.stderr


def test_an_unreadably_deep_stored_row_cannot_stop_a_restart(customs, gate):
    """Finding 1's other half: whatever sits in the table, the restart completes and alarms."""
    clear(customs, gate)
    gate.store.close()
    db = sqlite3.connect(customs.db_path, isolation_level=None)
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    db.execute(INSERT_ROW,
               ("8d1c7a0e-4f0b-4e0a-9a57-2f3c1f1b8e11", "VN_CUSTOMS", 99, "0" * 64, deep, customs.clock.now))
    db.close()
    again = customs.gate()
    assert again.clearance_of(C1)["crossing_allowed"] is True
    assert "not JSON a parser can read" in [b for t, b in customs.published if t == "alarm"][-1]["reason"]


# --- durable acknowledgements (finding 8) ------------------------------------------------------------------------

def test_acknowledged_means_fsynced_and_a_batch_is_one_transaction(customs, gate, monkeypatch):
    with gate.store.reading() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: fsync before COMMIT returns
    events = [customs.vn.event("declaration.accepted", f"VN-10450000{i:04d}", direction=VN_CN) for i in range(50)]
    commits = []
    original = gate.store.transaction

    def counting():
        commits.append(1)
        return original()

    monkeypatch.setattr(gate.store, "transaction", counting)
    results = gate.ingest_many([(e, None) for e in [*events, events[0], b"junk"]], "zmq")
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 50 + [Outcome.DUPLICATE, Outcome.REFUSED]
    assert len(commits) == 1
    monkeypatch.setattr(gate.store, "append_audits", lambda conn, entries: (_ for _ in ()).throw(OSError("disk")))
    more = [customs.vn.event("released", f"VN-10450000{i:04d}", direction=VN_CN) for i in range(3)]
    with pytest.raises(OSError):
        gate.ingest_many([(e, None) for e in more], "zmq")
    assert all(gate.clearance_of(f"VN-10450000{i:04d}")["VN_CUSTOMS"] == "declared" for i in range(3))


# --- a malformed signed event proves no events before it (found by hand, session 16) ---------------------------

def malformed(signer, seq, **changes):
    """``signer``'s event at ``seq`` with ``changes`` (making it malformed), validly signed."""
    fields = {k: v for k, v in signer.event("heartbeat", seq=seq).items() if k != "signature"}
    return sign_event({**fields, **changes}, signer.key)


@pytest.mark.parametrize("seq", [2**53, 2**62, 10**9])
def test_a_signed_malformed_event_at_a_far_seq_does_not_block_every_crossing(customs, gate, seq):
    """A VN event signed with VN's key at seq 2^53 was refused but its seq was counted as heard: every crossing
    then waited for events 4..2^53-1 that were never issued, for good (a restart kept it)."""
    clear(customs, gate)  # VN seqs 1-3
    assert gate.ingest(malformed(customs.vn, seq, type="no.such.type"), "t").outcome == Outcome.REFUSED
    if seq >= 2**53:  # out of the envelope's range: malformed by its seq alone
        assert gate.ingest(customs.vn.event("heartbeat", seq=seq), "t").outcome == Outcome.REFUSED
    assert gate.link_health()["VN_CUSTOMS"]["missing_seqs"] == []
    assert gate.evaluate("agv_001", VN_CN, [C1]).allowed
    gate.store.close()
    again = customs.gate()
    assert again.link_health()["VN_CUSTOMS"]["missing_seqs"] == []
    assert again.evaluate("agv_001", VN_CN, [C1]).allowed


def test_a_signed_malformed_event_fills_its_own_place_once_later_events_pass_it(customs, gate):
    """Malformed seq 4 then a valid seq 5: no gap at 4 (it was heard), in either order and after a restart."""
    clear(customs, gate)  # VN seqs 1-3
    assert gate.ingest(malformed(customs.vn, 4, type="no.such.type"), "t").outcome == Outcome.REFUSED
    assert gate.ingest(customs.vn.event("heartbeat", seq=5), "t").outcome == Outcome.ACCEPTED
    assert gate.ingest(customs.vn.event("heartbeat", seq=7), "t").outcome == Outcome.ACCEPTED
    assert gate.ingest(malformed(customs.vn, 6, type="no.such.type"), "t").outcome == Outcome.REFUSED
    assert gate.link_health()["VN_CUSTOMS"]["missing_seqs"] == []
    assert gate.ingest(customs.vn.event("heartbeat", seq=9), "t").outcome == Outcome.ACCEPTED
    assert gate.link_health()["VN_CUSTOMS"]["missing_seqs"] == [[8, 8]]
    gate.store.close()
    assert customs.gate().link_health()["VN_CUSTOMS"]["missing_seqs"] == [[8, 8]]


def test_seq_zero_is_refused(customs, gate):
    """Authorities number their events from 1 (docs/customs-protocol.md); seq 0 was accepted."""
    result = gate.ingest(customs.vn.event("heartbeat", seq=0), "t")
    assert result.outcome == Outcome.REFUSED and "seq" in result.reason


# --- an audit record edited into something no parser reads --------------------------------------------------------

@pytest.mark.parametrize("text", ["garbage", "[1]", '{"a":' * 100_000 + "1" + "}" * 100_000],
                         ids=["not JSON", "not an object", "too deep"])
def test_an_unreadable_audit_record_is_found_not_a_traceback(customs, gate, tmp_path, text):
    """Found by hand: a decision's body edited in the SQLite file to text no parser reads stopped the gate from
    starting (JSONDecodeError), and ``xborder audit export`` failed half-way with a traceback, leaving a file
    of the records before it that ``audit verify`` called intact."""
    clear(customs, gate)
    decided = gate.decide("agv_001", VN_CN, [C1])
    gate.store.close()
    db = sqlite3.connect(customs.db_path, isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET body = ? WHERE seq = ?", (text, decided.audit_seq))
    db.close()
    again = customs.gate()  # the service starts, says so, and still knows the clearance
    assert again.evaluate("agv_001", VN_CN, [C1]).allowed
    reasons = [body["reason"] for topic, body in customs.published if topic == "alarm"]
    assert f"audit record {decided.audit_seq} is unreadable (edited behind the fleet's back?)" in reasons, reasons
    again.store.close()
    out = tmp_path / "audit.jsonl"
    export = subprocess.run([XBORDER, "audit", "export", "--db", str(customs.db_path), "--out", str(out)],
                            capture_output=True, text=True)
    assert export.returncode == 0 and "Traceback" not in export.stderr, export.stderr
    assert len(out.read_text().splitlines()) >= decided.audit_seq + 2  # every record, the one after it too
    verify = subprocess.run([XBORDER, "audit", "verify", str(out)], capture_output=True, text=True)
    assert verify.returncode == 1, verify.stdout
    assert f"record {decided.audit_seq} was edited" in verify.stderr, verify.stderr
