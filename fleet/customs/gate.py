"""The customs gate: one ingestion path for every transport, clearance state, and gate decisions.

Thread-safe: the ZeroMQ server thread and the HTTP workers call into the same instance.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from fleet.customs.clearance import (
    AcceptedEvent,
    ConsignmentClearance,
    GateDecision,
    VehicleClearance,
    consignment_clearance,
    consignment_reasons,
    gate_rule,
    vehicle_clearance,
)
from fleet.customs.envelope import CustomsEvent, content_digest, format_time
from fleet.customs.signing import signature_valid
from fleet.store import Store, StoredEvent

log = logging.getLogger(__name__)

MAX_FUTURE_S = 120.0
MAX_EVENT_BYTES = 64 * 1024

Publisher = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Authority:
    name: str
    side: str
    public_key: Ed25519PublicKey


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # acknowledged, no effect (at-least-once delivery, exactly-once effect)
    REFUSED = "refused"


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    event_id: str | None = None
    reason: str = ""
    forbidden: bool = False  # refused because the submitter may not speak for that authority

    @property
    def acknowledged(self) -> bool:
        return self.outcome != Outcome.REFUSED

    def as_dict(self) -> dict[str, Any]:
        reply: dict[str, Any] = {"status": "ACK" if self.acknowledged else "NACK", "outcome": str(self.outcome),
                                 "event_id": self.event_id}
        if self.reason:
            reply["reason"] = self.reason
        return reply


class _Refusal(Exception):
    def __init__(self, reason: str, alarm: bool = False, forbidden: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.alarm, self.forbidden = reason, alarm, forbidden


class CustomsGate:
    """Ingests signed customs events, keeps clearance state, and decides crossings.

    Parameters
    ----------
    authorities : the configured authorities with their sides and public keys.
    store : the SQLite store; on construction every stored event is replayed, so state survives restarts.
    link_timeout_s : an authority's link is down when no valid event or heartbeat came for this long.
    clock : wall-clock seconds (injectable for tests).
    publish : called with (topic, message) for decisions, crossings, clearance changes and alarms.
    """

    def __init__(self, authorities: Iterable[Authority], store: Store, link_timeout_s: float = 60.0,
                 clock: Callable[[], float] = time.time, publish: Publisher | None = None) -> None:
        self.authorities = {a.name: a for a in authorities}
        self.directions = {f"{a.side}->{b.side}" for a in self.authorities.values()
                           for b in self.authorities.values() if a.side != b.side}
        self.store, self.link_timeout_s, self.clock = store, link_timeout_s, clock
        self.publish: Publisher = publish or (lambda topic, message: None)
        self._lock = threading.RLock()
        self._digests: dict[str, str] = {}  # event_id -> content digest
        self._seqs: dict[tuple[str, int], str] = {}  # (authority, seq) -> event_id
        self._by_consignment: dict[tuple[str, str], list[AcceptedEvent]] = defaultdict(list)
        self._by_vehicle: dict[tuple[str, str], list[AcceptedEvent]] = defaultdict(list)
        self._directions: dict[str, str] = {}  # consignment -> direction
        self._last_seen: dict[str, float] = {}  # authority -> received_at of its latest valid event
        self._replay()

    # --- ingestion --------------------------------------------------------------------------------------------

    def ingest(self, raw: bytes | str | Mapping[str, Any], via: str, submitted_by: str | None = None) -> IngestResult:
        """Check one event and apply it, or refuse it with a reason (audited either way, never half-applied).

        ``submitted_by`` is the authority a transport authenticated the sender as (an HTTP token's), if any.
        """
        with self._lock:
            fields: dict[str, Any] = {}
            try:
                fields = _as_fields(raw)
                event = self._check(fields, submitted_by)
            except _Refusal as refusal:
                return self._refuse(fields, raw, via, refusal)
            digest = content_digest(fields)
            if event.event_id in self._digests:
                return IngestResult(Outcome.DUPLICATE, event.event_id, "already applied")
            return self._apply(event, fields, digest, via)

    def _check(self, fields: dict[str, Any], submitted_by: str | None) -> CustomsEvent:
        authority = self.authorities.get(str(fields.get("authority")))
        if authority is None:
            raise _Refusal(f"unknown authority {fields.get('authority')!r}")
        if submitted_by is not None and submitted_by != authority.name:
            raise _Refusal(f"{submitted_by} may not post events of {authority.name}", forbidden=True)
        if not fields.get("signature"):
            raise _Refusal("missing signature")
        if not signature_valid(fields, authority.public_key):
            raise _Refusal(f"bad signature: not signed by {authority.name}'s key", alarm=True)
        try:
            event = CustomsEvent.model_validate(fields)
        except ValidationError as exc:
            raise _Refusal("malformed: " + "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors())) from None
        known = self._digests.get(event.event_id)
        if known is not None and known != content_digest(fields):
            raise _Refusal(f"event_id {event.event_id} reused with different content", alarm=True)
        holder = self._seqs.get((event.authority, event.seq))
        if holder is not None and holder != event.event_id:
            raise _Refusal(f"equivocation: {event.authority} seq {event.seq} was already event {holder} "
                           "with different content", alarm=True)
        ahead = event.issued_at.timestamp() - self.clock()
        if ahead > MAX_FUTURE_S:
            raise _Refusal(f"issued_at {format_time(event.issued_at)} is {ahead:.0f} s in the future "
                           f"(at most {MAX_FUTURE_S:.0f} s allowed)")
        if event.direction is not None and event.direction not in self.directions:
            raise _Refusal(f"direction {event.direction} is not one of {sorted(self.directions)}")
        if event.consignment_id is not None:
            travels = self._directions.get(event.consignment_id)
            if travels is not None and travels != event.direction:
                raise _Refusal(f"consignment {event.consignment_id} travels {travels}; this event says "
                               f"{event.direction}")
        return event

    def _apply(self, event: CustomsEvent, fields: dict[str, Any], digest: str, via: str) -> IngestResult:
        accepted = _accepted(event)
        received_at = self.clock()
        before = self._crossing_allowed(event.consignment_id) if event.consignment_id else None
        undo = self._index(accepted, digest, received_at)
        try:
            self.store.accept_event(
                StoredEvent(event.event_id, event.authority, event.seq, digest, fields, received_at),
                self._snapshot_states(accepted),
                {"event_id": event.event_id, "authority": event.authority, "seq": event.seq, "type": str(event.type),
                 "consignment_id": event.consignment_id, "vehicle_id": event.vehicle_id, "digest": digest,
                 "via": via})
        except BaseException:
            # not stored, so not applied: a resend must be applied, not acknowledged as a duplicate
            undo()
            raise
        if event.consignment_id:
            after = self._crossing_allowed(event.consignment_id)
            if after != before:
                self.publish("clearance", {"consignment_id": event.consignment_id, **self.clearance_of(
                    event.consignment_id), "event_id": event.event_id})
        return IngestResult(Outcome.ACCEPTED, event.event_id)

    def _refuse(self, fields: dict[str, Any], raw: Any, via: str, refusal: _Refusal) -> IngestResult:
        event_id = fields.get("event_id") if isinstance(fields.get("event_id"), str) else None
        body = {"reason": refusal.reason, "via": via, "event_id": event_id, "authority": fields.get("authority"),
                "seq": fields.get("seq"), "raw": _excerpt(raw)}
        self.store.audit("event_refused", body)
        if refusal.alarm:
            self.store.audit("alarm", body)
            self.publish("alarm", body)
            log.warning("customs alarm: %s", refusal.reason)
        return IngestResult(Outcome.REFUSED, event_id, refusal.reason, refusal.forbidden)

    def _index(self, event: AcceptedEvent, digest: str, received_at: float) -> Callable[[], None]:
        """Add an accepted event to the in-memory state; return what takes it out again."""
        last_seen = self._last_seen.get(event.authority)
        sets_direction = event.consignment_id is not None and event.consignment_id not in self._directions
        self._digests[event.event_id] = digest
        self._seqs[(event.authority, event.seq)] = event.event_id
        self._last_seen[event.authority] = received_at if last_seen is None else max(received_at, last_seen)
        if event.consignment_id:
            self._by_consignment[(event.consignment_id, event.authority)].append(event)
            self._directions.setdefault(event.consignment_id, event.direction or "")
        if event.vehicle_id:
            self._by_vehicle[(event.vehicle_id, event.authority)].append(event)

        def undo() -> None:
            del self._digests[event.event_id], self._seqs[(event.authority, event.seq)]
            if last_seen is None:
                del self._last_seen[event.authority]
            else:
                self._last_seen[event.authority] = last_seen
            if event.consignment_id:
                self._by_consignment[(event.consignment_id, event.authority)].remove(event)
                if sets_direction:
                    del self._directions[event.consignment_id]
            if event.vehicle_id:
                self._by_vehicle[(event.vehicle_id, event.authority)].remove(event)

        return undo

    def _snapshot_states(self, event: AcceptedEvent) -> dict[tuple[str, str], dict[str, Any]]:
        if event.consignment_id:
            c = consignment_clearance(self._by_consignment[(event.consignment_id, event.authority)])
            return {(f"consignment:{event.consignment_id}", event.authority):
                    {"status": str(c.status), "on_hold": c.on_hold, "channel": c.channel}}
        if event.vehicle_id:
            v = vehicle_clearance(self._by_vehicle[(event.vehicle_id, event.authority)])
            return {(f"vehicle:{event.vehicle_id}", event.authority): {"authorized": v.authorized}}
        return {}

    def _replay(self) -> None:
        """Rebuild the in-memory state from the stored events, and check it against the stored snapshots."""
        for stored in self.store.events():
            event = _accepted(CustomsEvent.model_validate(stored.raw))
            self._index(event, stored.digest, stored.received_at)
        snapshots = self.store.clearance_states()
        recomputed = {}
        for event_lists in (self._by_consignment.values(), self._by_vehicle.values()):
            for events in event_lists:
                recomputed.update(self._snapshot_states(events[0]))
        if recomputed != snapshots:
            log.error("clearance state recomputed from events differs from the stored snapshot; using the events")

    # --- queries and decisions ----------------------------------------------------------------------------------

    def link_ages(self) -> dict[str, float | None]:
        now = self.clock()
        return {name: (now - self._last_seen[name]) if name in self._last_seen else None
                for name in self.authorities}

    def consignment_state(self, consignment_id: str) -> dict[str, ConsignmentClearance]:
        with self._lock:
            return {name: consignment_clearance(self._by_consignment.get((consignment_id, name), []))
                    for name in self.authorities}

    def clearance_of(self, consignment_id: str) -> dict[str, Any]:
        """The consignment alone, vehicle conditions aside: each authority's status, allowed, reasons."""
        with self._lock:
            state = self.consignment_state(consignment_id)
            reasons = consignment_reasons(consignment_id, state)
            if consignment_id not in self._directions:
                reasons.insert(0, f"consignment {consignment_id} is unknown to customs")
            return {**{name: str(c.status) for name, c in state.items()},
                    "direction": self._directions.get(consignment_id), "crossing_allowed": not reasons,
                    "reasons": reasons}

    def _crossing_allowed(self, consignment_id: str) -> bool:
        return all(c.released for c in self.consignment_state(consignment_id).values())

    def evaluate(self, vehicle_id: str, direction: str, consignments: Iterable[str] = ()) -> GateDecision:
        """The gate rule's answer now, without recording it."""
        with self._lock:
            consignments = list(dict.fromkeys(consignments))
            return gate_rule(
                vehicle_id, direction, self.authorities,
                vehicle={name: vehicle_clearance(self._by_vehicle.get((vehicle_id, name), []))
                         for name in self.authorities},
                consignments={c: self.consignment_state(c) for c in consignments},
                consignment_directions={c: self._directions.get(c) for c in consignments},
                link_age_s=self.link_ages(), link_timeout_s=self.link_timeout_s)

    def decide(self, vehicle_id: str, direction: str, consignments: Iterable[str] = ()) -> GateDecision:
        """Evaluate the gate rule, record the decision in the audit log and publish it to both authorities."""
        with self._lock:
            decision = self.evaluate(vehicle_id, direction, consignments)
            record = self.store.audit("decision", decision.as_dict())
            self.publish("decision", {**decision.as_dict(), "audit_seq": record.seq,
                                      "decided_at": format_time(datetime.now(UTC))})
            return decision

    def record_crossing(self, vehicle_id: str, direction: str, consignments: Iterable[str],
                        decision_audit_seq: int | None = None) -> None:
        """A vehicle entered the crossing lanes: the custody handoff, recorded and published to both sides."""
        with self._lock:
            body = {"vehicle_id": vehicle_id, "direction": direction, "consignments": list(consignments),
                    "decision_audit_seq": decision_audit_seq, "at": format_time(datetime.now(UTC))}
            self.store.audit("crossing", body)
            self.publish("crossing", body)

    def vehicle_state(self, vehicle_id: str) -> dict[str, VehicleClearance]:
        with self._lock:
            return {name: vehicle_clearance(self._by_vehicle.get((vehicle_id, name), [])) for name in self.authorities}


def _as_fields(raw: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if len(raw) > MAX_EVENT_BYTES:
        raise _Refusal(f"event larger than {MAX_EVENT_BYTES} bytes")
    try:
        fields = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _Refusal(f"malformed: not JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise _Refusal("malformed: an event is a JSON object")
    return fields


def _accepted(event: CustomsEvent) -> AcceptedEvent:
    return AcceptedEvent(event.event_id, event.authority, event.seq, event.type, event.consignment_id,
                         event.vehicle_id, event.direction, dict(event.payload))


def _excerpt(raw: Any, limit: int = 2000) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw if isinstance(raw, str) else \
        json.dumps(raw, sort_keys=True, default=str)
    return text[:limit]

