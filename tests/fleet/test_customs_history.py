"""Issue 12, finding 10 and delivery 5: the cost of an event and of a restart do not grow with history.

The clearance fold is incremental in any arrival order (checked against the seq-order rule itself); a
restart loads the latest clearance snapshot and verifies only the events after it; a snapshot that was
tampered with or disagrees with the audit log raises an alarm and the state is rebuilt by verified replay,
with the evidence left where it was.
"""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

import fleet.customs.gate as gate_module
from fleet.customs.clearance import AcceptedEvent, ConsignmentClearance, ConsignmentFold, Status
from fleet.customs.envelope import EventType
from fleet.customs.gate import CustomsGate, Outcome
from fleet.store import Store

C1 = "VN-104512345678"
VN_CN = "VN->CN"
CONSIGNMENT_TYPES = [EventType.DECLARATION_ACCEPTED, EventType.CHANNEL_ASSIGNED, EventType.INSPECTION_REQUIRED,
                     EventType.INSPECTION_PASSED, EventType.RELEASED, EventType.HOLD, EventType.HOLD_LIFTED,
                     EventType.REVOKED]
FLOW = {EventType.DECLARATION_ACCEPTED: Status.DECLARED, EventType.INSPECTION_REQUIRED: Status.INSPECTION,
        EventType.INSPECTION_PASSED: Status.INSPECTED, EventType.RELEASED: Status.RELEASED,
        EventType.REVOKED: Status.REVOKED}


def seq_order_reference(events: list[AcceptedEvent]) -> ConsignmentClearance:
    """DESIGN.md §3 read literally: walk the events in seq order."""
    base, on_hold, channel, latest, latest_seq, release_seq = Status.PENDING, False, None, None, None, None
    for event in sorted(events, key=lambda e: e.seq):
        latest, latest_seq = event.event_id, event.seq
        if event.type == EventType.HOLD:
            on_hold = True
        elif event.type == EventType.HOLD_LIFTED:
            on_hold = False
        elif event.type == EventType.CHANNEL_ASSIGNED:
            channel = str(event.payload.get("channel"))
        elif FLOW[event.type] in (Status.RELEASED, Status.REVOKED) or base not in (Status.RELEASED, Status.REVOKED):
            base = FLOW[event.type]
            release_seq = event.seq if base == Status.RELEASED else None  # the release a crossing would use
    return ConsignmentClearance(Status.HOLD if on_hold else base, on_hold, channel, latest, base, latest_seq,
                                release_seq)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CONSIGNMENT_TYPES), min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_the_fold_in_any_arrival_order_is_the_seq_order_rule(types, rng):
    events = [AcceptedEvent(f"e{seq}", "VN_CUSTOMS", seq, kind, C1, None, VN_CN,
                            {"channel": rng.choice(["green", "red"])} if kind == EventType.CHANNEL_ASSIGNED else {})
              for seq, kind in enumerate(types, start=1)]
    arrival = events[:]
    rng.shuffle(arrival)
    fold = ConsignmentFold()
    for event in arrival:
        fold = fold.merge(event)
    assert fold.clearance == seq_order_reference(events)
    assert ConsignmentFold.from_json(json.loads(json.dumps(fold.to_json()))) == fold


def _timed_batches(gate: CustomsGate, events: list[dict], batch: int) -> list[float]:
    times = []
    for start in range(0, len(events), batch):
        began = time.perf_counter()
        results = gate.ingest_many([(e, None) for e in events[start:start + batch]], "test")
        times.append(time.perf_counter() - began)
        assert all(r.outcome == Outcome.ACCEPTED for r in results)
    return times


@pytest.mark.slow
def test_the_cost_of_an_event_does_not_grow_with_its_consignments_history(customs, gate):
    """20,000 events on one consignment and one vehicle, every other pair arriving out of seq order: was
    200 µs an event at the start and 17 ms at 20k (a re-fold of the whole history on each late arrival)."""
    kinds = ["hold", "hold.lifted", "inspection.required", "released"]
    events = []
    for i in range(16_000):
        events.append(customs.vn.event(kinds[i % 4], C1, direction=VN_CN))
        if i % 4 == 3:
            events.append(customs.vn.event("vehicle.authorized" if i % 8 == 3 else "vehicle.revoked",
                                           vehicle_id="agv_001"))
    for i in range(0, len(events) - 1, 4):  # late arrivals: each second pair swapped
        events[i], events[i + 1] = events[i + 1], events[i]
    times = _timed_batches(gate, events, 500)
    first, last = min(times[:5]), min(times[-5:])  # the least disturbed batch of each end (a shared machine)
    assert last < 2.0 * first, f"a batch took {first * 1000:.0f} ms at the start, {last * 1000:.0f} ms at 20k"
    assert gate.clearance_of(C1)["VN_CUSTOMS"] == str(seq_order_reference(
        [AcceptedEvent(e["event_id"], "VN_CUSTOMS", e["seq"], EventType(e["type"]), C1) for e in events
         if e["consignment_id"]]).status)


# --- restart from a snapshot -------------------------------------------------------------------------------------

@pytest.fixture
def fleet_key():
    return Ed25519PrivateKey.generate()


def signed_gate(customs, key, every: int = 10**9) -> CustomsGate:
    return CustomsGate(customs.authorities, Store(customs.db_path), 60.0, clock=customs.clock,
                       publish=lambda topic, message: customs.published.append((topic, message)), signing_key=key,
                       snapshot_every=(every, 10**9))


def history(customs, gate: CustomsGate, updates: int, consignments: int = 20) -> None:
    """``updates`` events spread over a fixed set of consignments (state size constant, history growing)."""
    kinds = ["declaration.accepted", "inspection.required", "inspection.passed", "released"]
    events = [signer.event(kinds[(i // consignments) % 4], f"VN-10450000{i % consignments:04d}", direction=VN_CN)
              for i in range(updates // 2) for signer in (customs.vn, customs.cn)]
    for start in range(0, len(events), 500):
        assert all(r.acknowledged for r in gate.ingest_many([(e, None) for e in events[start:start + 500]], "t"))


def counting_verifications(monkeypatch) -> list[int]:
    calls = []
    original = gate_module.signature_valid

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(gate_module, "signature_valid", counted)
    return calls


def test_restart_loads_the_snapshot_and_verifies_only_the_events_after_it(customs, fleet_key, monkeypatch):
    gate = signed_gate(customs, fleet_key, every=300)
    history(customs, gate, 1_000)  # two batches of 500: a snapshot after each
    assert gate.store.latest_snapshot() is not None
    gate.ingest(customs.cn.event("hold", "VN-104500000003", direction=VN_CN), "t")
    history(customs, gate, 200)
    expected = {c: gate.clearance_of(c) for c in (f"VN-10450000{i:04d}" for i in range(20))}
    gate.store.close()
    verified = counting_verifications(monkeypatch)
    again = signed_gate(customs, fleet_key)
    assert len(verified) == 201  # the snapshot covers the first 1,000 events: only the tail is re-verified
    assert {c: again.clearance_of(c) for c in expected} == expected
    assert again.verify_replay() == []  # the verify path: a full verified replay agrees with the loaded state
    assert not [m for t, m in customs.published if t == "alarm"]


@pytest.mark.slow
def test_restart_time_does_not_grow_with_history_beyond_the_snapshot(customs, fleet_key, monkeypatch, tmp_path):
    """A restart was a verified replay of every event ever received: 10x the history, 10x the restart."""
    paths = {updates: tmp_path / f"h{updates}.db" for updates in (1_000, 10_000)}
    for updates, path in paths.items():
        customs.db_path = path
        gate = signed_gate(customs, fleet_key)
        history(customs, gate, updates)
        gate._snapshot()
        history(customs, gate, 100)  # the same tail after the snapshot
        gate.store.close()
    verified = {updates: 0 for updates in paths}
    times: dict[int, list[float]] = {updates: [] for updates in paths}
    for _ in range(4):  # interleaved, so a burst of other jobs' load hits both sizes alike
        for updates, path in paths.items():
            customs.db_path = path
            calls = counting_verifications(monkeypatch)
            began = time.perf_counter()
            signed_gate(customs, fleet_key).store.close()
            times[updates].append(time.perf_counter() - began)
            verified[updates] = len(calls)
            monkeypatch.undo()
    assert verified == {1_000: 100, 10_000: 100}  # only the tail is verified, whatever the history
    assert min(times[10_000]) < 3 * min(times[1_000]), times


def _tamper(db_path, attack: str) -> None:
    db = sqlite3.connect(db_path, isolation_level=None)
    seq, state = db.execute("SELECT audit_seq, state FROM clearance_snapshots ORDER BY audit_seq DESC").fetchone()
    if attack == "state_edited":  # the held consignment shown released
        db.execute("UPDATE clearance_snapshots SET state = ? WHERE audit_seq = ?", (state.replace('"1"]', '""]'), seq))
    elif attack == "state_and_record_forged":  # a new snapshot row with a matching, unsigned audit record
        import hashlib

        from fleet.store.audit import record_hash
        forged = state.replace('"1"]', '""]')
        last, head = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC").fetchone()
        body = json.loads(db.execute("SELECT body FROM audit_log WHERE seq = ?", (seq,)).fetchone()[0])
        body = {k: v for k, v in body.items() if k != "signature"}
        body.update(covers_audit_seq=last, covers_head=head, state_digest=hashlib.sha256(forged.encode()).hexdigest())
        at = "2026-11-30T00:00:00.000000Z"
        db.execute("INSERT INTO audit_log VALUES (?,?,?,?,?,?)", (last + 1, at, "snapshot", json.dumps(body), head,
                                                                    record_hash(last + 1, at, "snapshot", body, head)))
        db.execute("INSERT INTO clearance_snapshots VALUES (?,?,?)", (last + 1, forged, 0.0))
    elif attack == "event_deleted":  # the hold's row removed
        db.execute("DELETE FROM customs_events WHERE raw LIKE '%\"type\":\"hold\"%'")  # stored as received
    elif attack == "pointed_elsewhere":
        db.execute("UPDATE clearance_snapshots SET audit_seq = 3 WHERE audit_seq = ?", (seq,))
    db.close()


@pytest.mark.parametrize("attack, reason", [
    ("state_edited", "does not match the digest"),
    ("state_and_record_forged", "not signed by the fleet's key"),
    ("event_deleted", "stored events"),
    ("pointed_elsewhere", "not a snapshot record"),
])
def test_a_tampered_snapshot_raises_an_alarm_and_the_state_comes_from_verified_replay(customs, fleet_key, attack,
                                                                                      reason):
    gate = signed_gate(customs, fleet_key)
    history(customs, gate, 200)
    held = "VN-104500000003"
    gate.ingest(customs.cn.event("hold", held, direction=VN_CN), "t")
    gate._snapshot()
    gate.store.close()
    _tamper(customs.db_path, attack)
    again = signed_gate(customs, fleet_key)
    assert [r.kind for r in again.store.audit_records()][-1] == "alarm"
    alarms = [m["reason"] for t, m in customs.published if t == "alarm"]
    assert any("snapshot" in a and "not used" in a and reason in a for a in alarms), alarms
    if attack == "event_deleted":  # the row is gone: the alarm names it; its seq is missing, which denies
        assert any("not stored (deleted?)" in a for a in alarms)
        again.ingest(customs.cn.event("heartbeat"), "t")
        assert any("events missing from its stream" in r for r in again.evaluate("agv_001", VN_CN, [held]).reasons)
    else:
        assert again.clearance_of(held)["CN_CUSTOMS"] == "hold"
    with sqlite3.connect(customs.db_path) as db:  # the evidence stays: nothing re-created or repaired
        assert db.execute("SELECT count(*) FROM clearance_snapshots").fetchone()[0] >= 1


def test_a_store_written_before_snapshots_upgrades_and_restarts_cleanly(customs, fleet_key):
    """Migration 0002 on a store of revision 0001: each stored event gets the seq of its audit record, so the
    first restart after it neither alarms nor re-reads events a later snapshot covers."""
    from alembic import command
    from alembic.config import Config

    from fleet.store.database import MIGRATIONS

    gate = signed_gate(customs, fleet_key)
    history(customs, gate, 200)
    expected = gate.clearance_of("VN-104500000003")
    gate.store.close()
    store = Store(customs.db_path)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")  # the store as the previous version wrote it
    store.close()
    with sqlite3.connect(customs.db_path) as db:
        assert "audit_seq" not in [row[1] for row in db.execute("PRAGMA table_info(customs_events)")]
    again = signed_gate(customs, fleet_key)  # upgrades on open
    assert again.clearance_of("VN-104500000003") == expected
    assert not [m for t, m in customs.published if t == "alarm"]
    with sqlite3.connect(customs.db_path) as db:
        assert db.execute("SELECT count(*) FROM customs_events WHERE audit_seq IS NULL").fetchone() == (0,)
    again._snapshot()
    again.store.close()
    assert signed_gate(customs, fleet_key).clearance_of("VN-104500000003") == expected
    assert not [m for t, m in customs.published if t == "alarm"]
