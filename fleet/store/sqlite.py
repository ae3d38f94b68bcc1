"""SQLite persistence (one file, WAL): accepted customs events, clearance snapshots, the audit log."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet.store.audit import GENESIS, AuditRecord, record_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS customs_events (
    event_id TEXT PRIMARY KEY,
    authority TEXT NOT NULL,
    seq INTEGER NOT NULL,
    digest TEXT NOT NULL,
    raw TEXT NOT NULL,
    received_at REAL NOT NULL,
    UNIQUE (authority, seq)
);
CREATE TABLE IF NOT EXISTS clearance_state (
    subject TEXT NOT NULL,       -- 'consignment:<id>' or 'vehicle:<id>'
    authority TEXT NOT NULL,
    state TEXT NOT NULL,         -- JSON
    PRIMARY KEY (subject, authority)
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


AUDIT_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete")


def missing_triggers(db: sqlite3.Connection) -> list[str]:
    """The append-only triggers missing from an existing audit log, as alarm texts."""
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}
    if "audit_log" not in names:
        return []
    return [f"audit log trigger {t} had been dropped (re-created now; records may have been changed meanwhile)"
            for t in AUDIT_TRIGGERS if t not in names]


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    authority: str
    seq: int
    digest: str
    raw: dict[str, Any]
    received_at: float


class SqliteStore:
    """Thread-safe access to the fleet's SQLite file. Each write is one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # evidence of tampering is reported (the gate raises an alarm), never silently repaired
        self.integrity_problems = missing_triggers(self._db)
        self._db.executescript(SCHEMA)
        row = self._db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        self._audit_seq, self._audit_head = row if row else (0, GENESIS)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def accept_event(self, event: StoredEvent, states: dict[tuple[str, str], dict[str, Any]],
                     audit_body: dict[str, Any]) -> None:
        """Store an accepted event, the clearance states it changed and its audit record, atomically."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO customs_events (event_id, authority, seq, digest, raw, received_at) VALUES (?,?,?,?,?,?)",
                (event.event_id, event.authority, event.seq, event.digest,
                 json.dumps(event.raw, sort_keys=True, ensure_ascii=False), event.received_at))
            self._db.executemany(
                "INSERT OR REPLACE INTO clearance_state (subject, authority, state) VALUES (?,?,?)",
                [(subject, authority, json.dumps(state, sort_keys=True)) for (subject, authority), state in
                 states.items()])
            self._append_audit("event_accepted", audit_body)

    def audit_head(self) -> tuple[int, str]:
        """The seq and hash of the latest audit record (0 and the genesis hash when there is none)."""
        with self._lock:
            return self._audit_seq, self._audit_head

    def audit(self, kind: str, body: dict[str, Any]) -> AuditRecord:
        with self._lock, self._transaction():
            return self._append_audit(kind, body)

    def events(self) -> list[StoredEvent]:
        with self._lock:
            rows = self._db.execute("SELECT event_id, authority, seq, digest, raw, received_at "
                                    "FROM customs_events ORDER BY rowid").fetchall()
        return [StoredEvent(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def clearance_states(self) -> dict[tuple[str, str], dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT subject, authority, state FROM clearance_state").fetchall()
        return {(subject, authority): json.loads(state) for subject, authority, state in rows}

    def audit_records(self) -> Iterator[AuditRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, recorded_at, kind, body, prev_hash, hash FROM audit_log ORDER BY seq").fetchall()
        for seq, recorded_at, kind, body, prev_hash, digest in rows:
            yield AuditRecord(seq, recorded_at, kind, json.loads(body), prev_hash, digest)

    def _append_audit(self, kind: str, body: dict[str, Any]) -> AuditRecord:
        seq = self._audit_seq + 1
        recorded_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        digest = record_hash(seq, recorded_at, kind, body, self._audit_head)
        self._db.execute("INSERT INTO audit_log (seq, recorded_at, kind, body, prev_hash, hash) VALUES (?,?,?,?,?,?)",
                         (seq, recorded_at, kind, json.dumps(body, sort_keys=True, ensure_ascii=False),
                          self._audit_head, digest))
        record = AuditRecord(seq, recorded_at, kind, body, self._audit_head, digest)
        self._audit_seq, self._audit_head = seq, digest
        return record

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; on error roll back, the in-memory audit head too."""
        seq, head = self._audit_seq, self._audit_head
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._audit_seq, self._audit_head = seq, head
            raise
        self._db.execute("COMMIT")
