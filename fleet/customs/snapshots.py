"""The customs gate's clearance state, and snapshots of it that a restart loads instead of replaying history.

A snapshot is the whole state (:class:`ClearanceState`) as JSON, taken when the audit log's head is
``(covers_audit_seq, covers_head)``: it reflects exactly the events whose ``event_accepted`` record is at or
before that seq. Its sha256, those two, and how many stored events it covers go into a ``snapshot`` audit
record — signed with the fleet's key when the gate has one — so a snapshot is anchored in the hash chain
(and, through the next signed checkpoint, in what the authorities keep). :func:`check_snapshot` refuses a
snapshot whose text, record, chain position or event count disagree; the gate then raises an alarm and
rebuilds the state by verified replay.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fleet.customs.clearance import ConsignmentFold, VehicleClearance
from fleet.customs.errors import CustomsError
from fleet.customs.signing import sign_event, signature_valid
from fleet.customs.streams import SeqStream
from fleet.store.audit import AuditKind, AuditRecord, record_hash

KIND = "xborder.clearance.snapshot"


class SnapshotRejected(CustomsError):
    """A stored snapshot that must not be trusted: tampered with, or inconsistent with the audit log."""


@dataclass
class ClearanceState:
    """Everything the gate knows from accepted events, each part folded in O(1) per event."""

    consignments: dict[tuple[str, str], ConsignmentFold] = field(default_factory=dict)  # (consignment, authority)
    vehicles: dict[tuple[str, str], tuple[int, VehicleClearance]] = field(default_factory=dict)  # -> (seq, ...)
    directions: dict[str, str] = field(default_factory=dict)  # consignment -> direction (its first event's)
    streams: defaultdict[str, SeqStream] = field(default_factory=lambda: defaultdict(SeqStream))
    last_seen: dict[str, float] = field(default_factory=dict)  # authority -> received_at of its latest event
    events: int = 0  # stored events applied
    #: (consignment, authority) -> the seq of the release its last crossing was made on (a release lets a
    #: consignment cross once): from the audit log's ``crossing`` records, not from events
    used_releases: dict[tuple[str, str], int] = field(default_factory=dict)

    def use_releases(self, used: Any) -> None:
        """Fold a ``crossing`` record's ``releases_used`` (``{consignment: {authority: seq}}``) in; anything else in
        its place (a record from before they were kept) changes nothing."""
        if not isinstance(used, dict):
            return
        for consignment, per_authority in used.items():
            for authority, seq in per_authority.items() if isinstance(per_authority, dict) else ():
                if type(seq) is int:
                    key = (str(consignment), str(authority))
                    self.used_releases[key] = max(seq, self.used_releases.get(key, seq))

    def to_json(self) -> str:
        return json.dumps({
            "consignments": [[c, a, fold.to_json()] for (c, a), fold in self.consignments.items()],
            "vehicles": [[v, a, seq, vc.authorized, vc.event_id] for (v, a), (seq, vc) in self.vehicles.items()],
            "directions": self.directions,
            "streams": {a: _stream_parts(s) for a, s in self.streams.items() if _stream_parts(s)},
            "last_seen": self.last_seen, "events": self.events,
            "used_releases": [[c, a, seq] for (c, a), seq in self.used_releases.items()],
        }, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ClearanceState:
        """The state from :meth:`to_json`; :class:`SnapshotRejected` if ``text`` is not one."""
        try:
            data = json.loads(text)
            state = cls(events=_int(data["events"]))
            for c, a, fold in data["consignments"]:
                state.consignments[(str(c), str(a))] = ConsignmentFold.from_json(fold)
            for v, a, seq, authorized, event_id in data["vehicles"]:
                number = _int(seq)
                state.vehicles[(str(v), str(a))] = (number, VehicleClearance(bool(authorized), str(event_id), number))
            state.directions = {str(c): str(d) for c, d in data["directions"].items()}
            for a, (complete_to, beyond, *ahead) in data["streams"].items():  # no ahead: none, or an older snapshot
                if len(ahead) > 1:
                    raise ValueError(f"stream {str(a)[:20]} has {len(ahead) + 2} parts")
                state.streams[str(a)] = SeqStream(_int(complete_to), sorted(_int(s) for s in beyond),
                                                  sorted(_int(s) for part in ahead for s in part))
            state.last_seen = {str(a): float(t) for a, t in data["last_seen"].items()}
            for c, a, seq in data.get("used_releases", ()):  # (none in a snapshot from before they were kept)
                state.used_releases[(str(c), str(a))] = _int(seq)
        except (ValueError, RecursionError, TypeError, KeyError, AttributeError) as exc:
            raise SnapshotRejected(f"its state is not a clearance state ({type(exc).__name__}: {str(exc)[:80]})") \
                from None
        return state

    def same_as(self, other: ClearanceState) -> list[str]:
        """What differs between two states (empty if none): how a snapshot is checked against a replay."""
        parts = ("consignments", "vehicles", "directions", "last_seen", "events", "used_releases")
        differences = [part for part in parts if getattr(self, part) != getattr(other, part)]
        streams = {a: _stream_parts(s) for a, s in self.streams.items() if _stream_parts(s)}
        if streams != {a: _stream_parts(s) for a, s in other.streams.items() if _stream_parts(s)}:
            differences.append("streams")
        return differences


def _stream_parts(stream: SeqStream) -> list[Any]:
    """A stream as JSON: ``[complete_to, beyond]``, ``ahead`` after them when it has any; empty if nothing heard."""
    parts: list[Any] = [stream.complete_to, stream.beyond, *([stream.ahead] if stream.ahead else [])]
    return parts if stream.complete_to or stream.beyond or stream.ahead else []


def _int(value: Any) -> int:
    if type(value) is not int:
        raise ValueError(f"{str(value)[:20]} is not an integer")
    return value


def snapshot_body(state_text: str, covers: tuple[int, str], events: int, key: Ed25519PrivateKey | None) -> dict:
    """The ``snapshot`` audit record's body: what the snapshot covers and its digest, signed with ``key``."""
    body = {"kind": KIND, "covers_audit_seq": covers[0], "covers_head": covers[1], "events": events,
            "state_digest": hashlib.sha256(state_text.encode()).hexdigest()}
    return sign_event(body, key) if key is not None else body


def check_snapshot(state_text: str, record: AuditRecord | None, covered: AuditRecord | None, counted_events: int,
                   fleet_keys: Sequence[Ed25519PublicKey]) -> ClearanceState:
    """The snapshot's state if everything agrees, else :class:`SnapshotRejected` saying what does not.

    ``record`` is the audit record at the snapshot's seq (its own ``snapshot`` record), ``covered`` the one
    it says it covers up to, ``counted_events`` how many stored events name an audit record up to that one;
    ``fleet_keys``: the record must be signed by one of them (the fleet's key and those it signed with before
    rotating it), unless there are none (a fleet that does not sign).
    """
    if record is None or record.kind != AuditKind.SNAPSHOT:
        raise SnapshotRejected("its audit record is missing or is not a snapshot record")
    if record_hash(record.seq, record.recorded_at, record.kind, record.body, record.prev_hash) != record.hash:
        raise SnapshotRejected(f"its audit record {record.seq} was edited")
    body: Mapping[str, Any] = record.body
    if body.get("kind") != KIND or hashlib.sha256(state_text.encode()).hexdigest() != body.get("state_digest"):
        raise SnapshotRejected(f"its state does not match the digest in audit record {record.seq}")
    if fleet_keys and not any(signature_valid(dict(body), key) for key in fleet_keys):
        raise SnapshotRejected(f"audit record {record.seq} is not signed by the fleet's key")
    covers = body.get("covers_audit_seq")
    if covered is None or covered.seq != covers or covered.hash != body.get("covers_head") or \
            record.prev_hash != covered.hash:
        raise SnapshotRejected(f"the audit log's record {covers} is not the one the snapshot covers")
    if counted_events != body.get("events"):
        raise SnapshotRejected(f"it covers {body.get('events')} stored events, but {counted_events} are stored "
                               f"up to audit record {covers}")
    state = ClearanceState.from_json(state_text)
    if state.events != counted_events:
        raise SnapshotRejected("its state counts another number of events than its audit record")
    return state
