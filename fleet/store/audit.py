"""The append-only, hash-chained audit log: each record's hash covers its content and the previous hash,
so either customs side can check an exported log and find any edited, removed or reordered record."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64
# the triggers that make the audit log append-only, per database dialect (migration 0001 creates them)
AUDIT_TRIGGERS = {"sqlite": ("audit_log_no_update", "audit_log_no_delete"), "postgresql": ("audit_log_no_change",)}


class AuditKind(StrEnum):
    """What an audit record records."""

    EVENT_ACCEPTED = "event_accepted"  # a customs event, verified and applied
    EVENT_REFUSED = "event_refused"  # a customs event refused, with the reason
    REFUSALS_SUPPRESSED = "refusals_suppressed"  # how many refusals from one peer a flood left unrecorded
    DECISION = "decision"  # the gate rule's answer for a vehicle and its load
    CROSSING = "crossing"  # a vehicle entered the crossing: the custody handoff
    ALARM = "alarm"
    SNAPSHOT = "snapshot"  # the customs gate's state, to restart from


#: the key under which a stored body that is not a JSON object is read (:func:`body_of`)
UNREADABLE_BODY = "unreadable_body"


def body_of(text: str) -> dict[str, Any]:
    """A stored record's body. The fleet writes only canonical JSON objects, so text that is not one was edited
    behind the fleet's back: it is read as ``{"unreadable_body": text}`` (whose hash cannot match: every check
    finds the record edited) rather than stopping every reader of the log, the service's start among them."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        body = None
    return body if isinstance(body, dict) else {UNREADABLE_BODY: str(text)}


def missing_triggers(present: Iterable[str], dialect: str) -> list[str]:
    """Alarm texts for the append-only triggers absent from ``present`` (nothing re-creates them silently)."""
    names = set(present)
    return [f"audit log trigger {t} has been dropped: records may have been changed or deleted since"
            for t in AUDIT_TRIGGERS.get(dialect, ()) if t not in names]


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    recorded_at: str
    kind: str  # an AuditKind's value
    body: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@functools.lru_cache(maxsize=256)  # a batch's records share their time, and there are few kinds
def _json_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def canonical_body(body: dict[str, Any]) -> str:
    """A record's body as canonical JSON: keys sorted, separators ``,`` and ``:``, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(seq: int, recorded_at: str, kind: str, body: dict[str, Any], prev_hash: str) -> str:
    """sha256 of ``prev_hash``, a newline and the canonical JSON of ``{seq, recorded_at, kind, body}``."""
    return record_hash_of_text(seq, recorded_at, kind, canonical_body(body), prev_hash)


def record_hash_of_text(seq: int, recorded_at: str, kind: str, body_text: str, prev_hash: str) -> str:
    """:func:`record_hash` with the body already in canonical JSON: the object's keys in sorted order
    (``body``, ``kind``, ``recorded_at``, ``seq``) put together around it, as ``json.dumps`` would."""
    content = f'{{"body":{body_text},"kind":{_json_text(kind)},"recorded_at":{_json_text(recorded_at)},"seq":{seq:d}}}'
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


_FIELD_TYPES = {"seq": int, "recorded_at": str, "kind": str, "body": dict, "prev_hash": str, "hash": str}


def parse_record(line: str) -> AuditRecord:
    """One exported line as a record, every field of its type; ValueError if it is not one."""
    try:
        data = json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(data, dict) or set(data) != set(_FIELD_TYPES):
        raise ValueError(f"fields must be exactly {sorted(_FIELD_TYPES)}")
    wrong = [name for name, kind in _FIELD_TYPES.items() if type(data[name]) is not kind]
    if wrong:
        raise ValueError(f"wrong type for {wrong}")
    return AuditRecord(**data)


def verify_chain(lines: Iterable[str]) -> list[str]:
    """Check an exported log (JSON lines); return every problem found, each naming the record, or []."""
    problems: list[str] = []
    prev_hash, expected_seq = GENESIS, 1
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = parse_record(line)
        except ValueError as exc:
            problems.append(f"line {number}: not an audit record ({str(exc)[:200]})")
            continue
        if record.seq != expected_seq:
            if record.seq > expected_seq:
                missing = f"record {expected_seq}" if record.seq == expected_seq + 1 else \
                    f"records {expected_seq}-{record.seq - 1}"
                problems.append(f"line {number}: {missing} missing before record {record.seq}")
            else:
                problems.append(f"line {number}: record {record.seq} out of order (expected {expected_seq})")
        elif record.prev_hash != prev_hash:
            problems.append(f"line {number}: record {record.seq} does not follow the previous record (chain broken)")
        if record_hash(record.seq, record.recorded_at, record.kind, record.body, record.prev_hash) != record.hash:
            problems.append(f"line {number}: record {record.seq} was edited (its hash does not match its content)")
        prev_hash, expected_seq = record.hash, max(expected_seq, record.seq) + 1
    return problems
