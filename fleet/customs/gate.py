"""The customs gate: one ingestion path for every transport, clearance state, and gate decisions.

Thread-safe: the ZeroMQ server thread and the HTTP workers call into the same instance.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from fleet.customs.bounded_json import parse_bounded, to_bytes
from fleet.customs.checkpoints import make_checkpoint
from fleet.customs.clearance import (
    NO_CLEARANCE,
    AcceptedEvent,
    ConsignmentClearance,
    ConsignmentFold,
    GateDecision,
    Status,
    VehicleClearance,
    consignment_reasons,
    gate_rule,
    vehicle_step,
)
from fleet.customs.envelope import STORED, CustomsEvent, content_digest, format_time, signed_bytes
from fleet.customs.errors import MalformedInput
from fleet.customs.refusals import refusal_body, safe_text
from fleet.customs.signing import signature_valid
from fleet.customs.snapshots import ClearanceState, SnapshotRejected, check_snapshot, snapshot_body
from fleet.customs.streams import Span
from fleet.refusal_limit import RefusalLimiter
from fleet.store import AuditKind, AuditRecord, NewEvent, Store, StoredEvent, StoreError
from fleet.store.audit import UNREADABLE_BODY, record_hash

log = logging.getLogger(__name__)

MAX_FUTURE_S = 120.0
#: characters of a replaced stored row's text kept in the audit record of the event that replaced it (evidence)
REPLACED_TEXT_MAX = 4096
MAX_EVENT_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8  # the envelope is level 1, its payload level 2: room for a little structure, no more
MAX_NUMBER_CHARS = 32  # seq < 2^53 has 16 digits
RESEND_EVERY_S = 5.0  # while a gap stands, ask for it again at most this often
PARALLEL_FROM = 16  # batches at least this big are verified on two threads (Ed25519 releases the GIL)

Publisher = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Authority:
    """A customs authority: its side of the border and the key that signs its events. ``previous_keys``: keys it
    signed with before rotating to ``public_key``; they still verify its *stored* events on a restart (accepted
    when they were its key), never an event arriving now."""

    name: str
    side: str
    public_key: Ed25519PublicKey
    previous_keys: tuple[Ed25519PublicKey, ...] = ()

    def signed_once(self, fields: dict[str, Any]) -> bool:
        """Do ``fields`` verify with the authority's key, or one it used before?"""
        return any(signature_valid(fields, key) for key in (self.public_key, *self.previous_keys))


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # acknowledged, no effect (at-least-once delivery, exactly-once effect)
    REFUSED = "refused"


class AlarmCause(StrEnum):
    """Why a refused event raises an alarm (its audit record's ``alarm``): each is its own line for the control room."""

    FORGED = "forged"  # not signed by the authority's key
    EVENT_ID_REUSED = "event_id_reused"  # a known event_id with other content
    EQUIVOCATION = "equivocation"  # the authority's key signed two events for one seq


@dataclass
class IngestResult:
    outcome: Outcome
    event_id: str | None = None
    reason: str = ""
    forbidden: bool = False  # refused because the submitter may not speak for that authority
    checkpoint: dict[str, Any] | None = None  # the latest signed audit checkpoint, if the fleet signs them

    @property
    def acknowledged(self) -> bool:
        return self.outcome != Outcome.REFUSED

    def as_dict(self) -> dict[str, Any]:
        reply: dict[str, Any] = {"status": "ACK" if self.acknowledged else "NACK", "outcome": str(self.outcome),
                                 "event_id": self.event_id}
        if self.reason:
            reply["reason"] = self.reason
        if not self.acknowledged:
            reply["resend"] = False  # a refusal is final: sending the same bytes again gets the same answer
        if self.checkpoint is not None:
            reply["checkpoint"] = self.checkpoint
        return reply


@dataclass
class Verified:
    """An event after the checks that need no state: parsed, signature verified, fields validated — or refused."""

    submitted_by: str | None
    data: bytes = b""
    fields: dict[str, Any] = field(default_factory=dict)
    event: CustomsEvent | None = None
    digest: str = ""
    refusal: _Refusal | None = None


@dataclass
class _Batch:
    """What a batch of events will write in its one transaction, how to take it back, and what to do once
    it is durable (publish)."""

    digests: dict[str, str] = field(default_factory=dict)  # event_id -> digest, stored or in this batch
    holders: dict[tuple[str, int], str] = field(default_factory=dict)  # (authority, seq) -> event_id, likewise
    events: list[tuple[int, NewEvent]] = field(default_factory=list)  # (index of its audit entry, event)
    audits: list[tuple[AuditKind, dict[str, Any]]] = field(default_factory=list)
    authorities: set[str] = field(default_factory=set)  # whose streams grew
    names_any: bool = False  # an accepted event names a consignment or a vehicle (a heartbeat names neither)
    undos: list[Callable[[], None]] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # event_ids of stored rows the replay could not apply, replaced


@dataclass(frozen=True)
class Unapplied:
    """A stored event row the replay did not apply (edited or inserted behind the fleet's back): where it sits,
    why, and its text, kept until a resend of the event takes its place (``CustomsGate._unapplied``)."""

    authority: str
    seq: int
    reason: str
    text: str


class _Refusal(Exception):
    def __init__(self, reason: str, alarm: AlarmCause | None = None, forbidden: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.alarm, self.forbidden = reason, alarm, forbidden
        self.signed = False  # refused after its signature verified: the authority did issue this seq
        self.well_formed = False  # and every field passed the envelope's checks (so its seq is trustworthy)


class CustomsGate:
    """Ingests signed customs events, keeps clearance state, and decides crossings.

    Parameters
    ----------
    authorities : the configured authorities with their sides and public keys.
    store : the store; on construction the latest clearance snapshot is checked and loaded and the events
        after it re-verified and applied (or, if it cannot be trusted, every stored event), so state survives
        restarts.
    link_timeout_s : an authority's link is down when no valid event or heartbeat came for this long.
    clock : wall-clock seconds (injectable for tests).
    publish : called with (topic, message) for decisions, crossings, clearance changes, a vehicle's authorization
        changed by an authority, alarms, resend requests and checkpoints.
    signing_key : the fleet's Ed25519 key; with it the gate signs an audit checkpoint at least every
        ``checkpoint_every = (records, seconds)``, publishes it and puts the latest in every reply.
    previous_fleet_keys : the public keys the fleet signed with before rotating to ``signing_key``: a clearance
        snapshot signed with one of them is still the fleet's own on a restart.
    snapshot_every : ``(accepted events, seconds)``: a clearance snapshot is taken after that many events, or
        that long after the first event since the last one; a restart loads the latest snapshot and applies
        only the events after it (signed with ``signing_key``, when given).
    """

    def __init__(self, authorities: Iterable[Authority], store: Store, link_timeout_s: float = 60.0,
                 clock: Callable[[], float] = time.time, publish: Publisher | None = None,
                 signing_key: Ed25519PrivateKey | None = None,
                 checkpoint_every: tuple[int, float] = (100, 10.0),
                 snapshot_every: tuple[int, float] = (10_000, 300.0),
                 previous_fleet_keys: Sequence[Ed25519PublicKey] = ()) -> None:
        self.authorities = {a.name: a for a in authorities}
        self.directions = {f"{a.side}->{b.side}" for a in self.authorities.values()
                           for b in self.authorities.values() if a.side != b.side}
        self.store, self.link_timeout_s, self.clock = store, link_timeout_s, clock
        self.publish: Publisher = publish or (lambda topic, message: None)
        self._lock = threading.RLock()
        # what the accepted events say, O(1) per event; duplicates and equivocations are looked up in the
        # store a batch at a time, so memory and restart time do not grow with history
        self._state = ClearanceState()
        #: the gate rule's answers while nothing it reads changed but the links' ``last_seen`` (:meth:`evaluate`);
        #: emptied by every other change. Each was given with every link live, so each holds while every link is:
        #: until a link last seen at ``_rulings_oldest`` (the earliest last_seen when one was last kept) times out
        self._rulings: dict[tuple[str, str, tuple[str, ...]], GateDecision] = {}
        self._rulings_oldest = float("-inf")
        self._resend_asked: dict[str, tuple[tuple[tuple[int, int], ...], float]] = {}
        self._refusals = RefusalLimiter()
        self._verifier = ThreadPoolExecutor(2, thread_name_prefix="customs-verify")
        self._signing_key, self._checkpoint_every = signing_key, checkpoint_every
        #: the keys a snapshot record the fleet signed verifies with (none: the fleet does not sign)
        self._fleet_keys = (signing_key.public_key(), *previous_fleet_keys) if signing_key else ()
        self._snapshot_every = snapshot_every
        self._unanchored, self._anchored_at = 0, clock()
        self._unsnapshotted, self._snapshot_at = 0, clock()
        self.checkpoint: dict[str, Any] | None = None
        #: stored rows the replay could not apply, by event_id: a resend of the event takes their place
        self._unapplied: dict[str, Unapplied] = {}
        self._load()
        self._anchor()

    # --- ingestion --------------------------------------------------------------------------------------------

    def ingest(self, raw: bytes | str | Mapping[str, Any], via: str, submitted_by: str | None = None) -> IngestResult:
        """Check one event and apply it, or refuse it with a reason (audited either way, never half-applied).

        ``submitted_by`` is the authority a transport authenticated the sender as (an HTTP token's, a CURVE
        key's), if any. No input makes this raise, except a failing store (then nothing was applied).
        """
        return self.ingest_many([(raw, submitted_by)], via)[0]

    def ingest_many(self, items: Sequence[tuple[bytes | str | Mapping[str, Any], str | None]],
                    via: str) -> list[IngestResult]:
        """:meth:`ingest` for several events at once, committed in **one** transaction (group commit).

        Each event is checked against the state the ones before it left, exactly as if ingested one by one;
        nothing is acknowledged (or published) before the transaction is durable, and if it fails none of
        the batch is applied and the store's error propagates.
        """
        return self.apply_verified(self.verify_many(items), via)

    def verify_many(self, items: Sequence[tuple[bytes | str | Mapping[str, Any], str | None]]
                    ) -> list[Future[list[Verified]]]:
        """Start the checks that need no state — parsing, bounds, the signature, the fields: a big batch in two
        halves on the gate's verifier threads, a small one at once. :meth:`apply_verified` takes the result, so
        a transport can verify the next batch while the previous one commits."""
        if len(items) < PARALLEL_FROM:
            done: Future[list[Verified]] = Future()
            done.set_result([self._prepare(item) for item in items])
            return [done]
        half = len(items) // 2
        return [self._verifier.submit(self._prepare_all, part) for part in (items[:half], items[half:])]

    def _prepare_all(self, items: Sequence[tuple[bytes | str | Mapping[str, Any], str | None]]) -> list[Verified]:
        return [self._prepare(item) for item in items]

    def apply_verified(self, verifying: list[Future[list[Verified]]], via: str) -> list[IngestResult]:
        """Check verified events (:meth:`verify_many`) against the state, apply them and commit them in one
        transaction; the results in the order the events were given."""
        prepared = [item for part in verifying for item in part.result()]
        with self._lock:
            batch = _Batch()
            gaps_before = self._gaps()
            try:
                with self.store.urgent(), self.store.transaction() as conn:  # a vehicle may wait at its gate for it
                    events = [p.event for p in prepared if p.event]
                    batch.digests, batch.holders = self.store.known_events(
                        conn, [e.event_id for e in events], [(e.authority, e.seq) for e in events])
                    results = [self._ingest_one(p, via, batch) for p in prepared]
                    if batch.audits:
                        records = self.store.append_audits(conn, batch.audits)
                        for index, event in batch.events:
                            event.audit_seq = records[index].seq
                        if batch.replaced:
                            self.store.delete_events(conn, batch.replaced)
                        self.store.write_events(conn, [event for _, event in batch.events])
            except BaseException:
                for undo in reversed(batch.undos):  # not stored, so not applied: resends must be applied
                    undo()
                self._rulings.clear()
                raise
            if batch.names_any or self._gaps() != gaps_before:
                self._rulings.clear()  # the batch changed what the rule reads (see _gaps)
            elif (oldest := self._oldest_heard()) is not None:
                self._rulings_oldest = oldest  # what is kept holds while every link is live, now from later on
            self._state.events += len(batch.events)
            for event_id in batch.replaced:
                self._unapplied.pop(event_id, None)
            self._audited(len(batch.audits))
            for action in batch.after_commit:
                action()
            for authority in batch.authorities:
                self._ask_for_gaps(authority)
            self._unsnapshotted += len(batch.events)
            if self._unsnapshotted >= self._snapshot_every[0]:
                self._snapshot()  # after the batch is durable: a failing snapshot costs only a longer restart
            for result in results:
                result.checkpoint = self.checkpoint
            return results

    def _ingest_one(self, p: Verified, via: str, batch: _Batch) -> IngestResult:
        try:
            if p.refusal is not None:
                raise p.refusal
            assert p.event is not None
            replaces = self._set_aside_unapplied(p.event, batch)
            self._check_state(p.event, p.digest, batch)
        except _Refusal as refusal:
            return self._refuse(p.fields, p.data, via, p.submitted_by, refusal, batch)
        if p.event.event_id in batch.digests:
            return IngestResult(Outcome.DUPLICATE, p.event.event_id, "already applied")
        return self._apply(p.event, p.data, p.digest, via, batch, replaces)

    def _set_aside_unapplied(self, event: CustomsEvent, batch: _Batch) -> list[tuple[str, Unapplied]]:
        """The stored rows under this event's id or its (authority, seq) that the replay could not apply (edited or
        inserted behind the fleet's back: ``_unapplied``), while that seq is not applied (never a row whose event
        the state holds): left out of the duplicate and equivocation checks, to be replaced by the event, verified
        as it arrived. Before, the resend of a row edited in the table was answered "duplicate" (or refused as an
        event_id reused), and its seq denied every crossing of the authority for good; a deleted row's resend was
        applied. (A snapshot taken while a row is not applied counts one event less than the rows stored, so a
        restart does not use it and replays every row again: ``_unapplied`` is whole after any restart.)"""
        if not self._unapplied:
            return []
        stream = self._state.streams.get(event.authority)
        if stream is not None and stream.heard(event.seq):
            return []
        found = []
        holder = batch.holders.get((event.authority, event.seq), event.event_id)
        for event_id in dict.fromkeys((event.event_id, holder)):
            row = self._unapplied.get(event_id)
            if row is None:
                continue
            batch.digests.pop(event_id, None)
            for place in ((event.authority, event.seq), (row.authority, row.seq)):
                if batch.holders.get(place) == event_id:
                    del batch.holders[place]
            found.append((event_id, row))
        return found

    def _prepare(self, item: tuple[bytes | str | Mapping[str, Any], str | None]) -> Verified:
        """Every check that depends on the event alone, not on the gate's state."""
        raw, submitted_by = item
        prepared = Verified(submitted_by)
        try:
            prepared.data = _as_bytes(raw)
            prepared.fields = _as_fields(prepared.data)
            prepared.event, prepared.digest = self._check_alone(prepared.fields, submitted_by)
        except _Refusal as refusal:
            prepared.refusal = refusal
        return prepared

    def _check_alone(self, fields: dict[str, Any], submitted_by: str | None) -> tuple[CustomsEvent, str]:
        """The event and its content digest, or :class:`_Refusal`."""
        authority = self.authorities.get(str(fields.get("authority")))
        if authority is None:
            raise _Refusal(f"unknown authority {fields.get('authority')!r}")
        if submitted_by is not None and submitted_by != authority.name:
            raise _Refusal(f"{submitted_by} may not post events of {authority.name}", forbidden=True)
        if not fields.get("signature"):
            raise _Refusal("missing signature")
        message = signed_bytes(fields)
        if not signature_valid(fields, authority.public_key, message):
            raise _Refusal(f"bad signature: not signed by {authority.name}'s key", alarm=AlarmCause.FORGED)
        try:
            return CustomsEvent.model_validate(fields), hashlib.sha256(message).hexdigest()
        except ValidationError as exc:
            refusal = _Refusal("malformed: " + "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()))
            refusal.signed = True
            raise refusal from None

    def _check_state(self, event: CustomsEvent, digest: str, batch: _Batch) -> None:
        """The checks against what the gate already holds; a refusal here is of a validly signed event."""
        try:
            self._check_against_state(event, digest, batch)
        except _Refusal as refusal:
            refusal.signed = refusal.well_formed = True
            raise

    def _check_against_state(self, event: CustomsEvent, digest: str, batch: _Batch) -> None:
        known = batch.digests.get(event.event_id)
        if known is not None and known != digest:
            raise _Refusal(f"event_id {event.event_id} reused with different content",
                           alarm=AlarmCause.EVENT_ID_REUSED)
        holder = batch.holders.get((event.authority, event.seq))
        if holder is not None and holder != event.event_id:
            raise _Refusal(f"equivocation: {event.authority} seq {event.seq} was already event {holder} "
                           "with different content", alarm=AlarmCause.EQUIVOCATION)
        ahead = event.issued_at.timestamp() - self.clock()
        if ahead > MAX_FUTURE_S:
            raise _Refusal(f"issued_at {format_time(event.issued_at)} is {ahead:.0f} s in the future "
                           f"(at most {MAX_FUTURE_S:.0f} s allowed)")
        if event.direction is not None and event.direction not in self.directions:
            raise _Refusal(f"direction {event.direction} is not one of {sorted(self.directions)}")
        if event.consignment_id is not None:
            travels = self._state.directions.get(event.consignment_id)
            if travels is not None and travels != event.direction:
                raise _Refusal(f"consignment {event.consignment_id} travels {travels}; this event says "
                               f"{event.direction}")

    def _apply(self, event: CustomsEvent, data: bytes, digest: str, via: str, batch: _Batch,
               replaces: Sequence[tuple[str, Unapplied]] = ()) -> IngestResult:
        accepted = _accepted(event)
        received_at = self.clock()
        consignment = event.consignment_id
        released_before = consignment is not None and self._clearance(consignment, event.authority).released
        vehicle = event.vehicle_id
        authorized_before = vehicle is not None and self._vehicle(vehicle, event.authority).authorized
        batch.undos.append(self._index(accepted, received_at))
        batch.digests[event.event_id] = digest
        batch.holders[(event.authority, event.seq)] = event.event_id
        batch.authorities.add(event.authority)
        batch.names_any = batch.names_any or consignment is not None or vehicle is not None
        batch.events.append((len(batch.audits), NewEvent(event.event_id, event.authority, event.seq, digest,
                                                         data.decode(), received_at)))
        batch.audits.append((AuditKind.EVENT_ACCEPTED, {
            "event_id": event.event_id, "authority": event.authority, "seq": event.seq, "type": str(event.type),
            "consignment_id": consignment, "vehicle_id": event.vehicle_id, "digest": digest, "via": via}
            | ({"replaced_stored_row": "; ".join(r.reason for _, r in replaces),
                "replaced_text": [r.text[:REPLACED_TEXT_MAX] for _, r in replaces]} if replaces else {})))
        batch.replaced += [event_id for event_id, _ in replaces]  # (deleted before the event is written)
        # the consignment's crossing_allowed changed only if this authority's release did and the others' stand
        if consignment and self._clearance(consignment, event.authority).released != released_before and all(
                self._clearance(consignment, name).released for name in self.authorities if name != event.authority):
            message = {"consignment_id": consignment, **self.clearance_of(consignment), "event_id": event.event_id}
            batch.after_commit.append(lambda: self.publish("clearance", message))
        # a vehicle authorized or revoked by this authority: the dispatcher takes a release back at once
        if vehicle and self._vehicle(vehicle, event.authority).authorized != authorized_before:
            body = {"vehicle_id": vehicle, "authority": event.authority, "event_id": event.event_id,
                    "authorized": not authorized_before}
            batch.after_commit.append(lambda: self.publish("authorization", body))
        return IngestResult(Outcome.ACCEPTED, event.event_id)

    def _refuse(self, fields: dict[str, Any], raw: bytes, via: str, submitted_by: str | None,
                refusal: _Refusal, batch: _Batch) -> IngestResult:
        peer = f"{via}:{submitted_by or '-'}"
        body = {**refusal_body(fields, raw, refusal.reason, via, peer), "signed": refusal.signed}
        if refusal.signed:
            body["well_formed"] = refusal.well_formed
            self._hear_refused(body)
        record, suppressed = self._refusals.admit(peer, self.clock())
        if suppressed:
            batch.audits.append((AuditKind.REFUSALS_SUPPRESSED, {"peer": peer, "count": suppressed}))
        if record:
            batch.audits.append((AuditKind.EVENT_REFUSED, body))
            if refusal.alarm:
                alarm = {**body, "alarm": str(refusal.alarm)}
                batch.audits.append((AuditKind.ALARM, alarm))
                batch.after_commit.append(lambda: self.publish("alarm", alarm))
                log.warning("customs alarm: %s", body["reason"])
        return IngestResult(Outcome.REFUSED, body["event_id"], body["reason"], refusal.forbidden)

    def _hear_refused(self, body: dict[str, Any]) -> None:
        """A signed refusal's seq was issued and answered, so it is no gap (the authority knows it was refused);
        a malformed one proves no events below it (:mod:`fleet.customs.streams`). Records written before
        ``well_formed`` existed say "malformed" in their reason."""
        seq = body.get("seq")
        if type(seq) is not int:
            return
        stream = self._state.streams[body["authority"]]
        if body.get("well_formed", not str(body.get("reason", "")).startswith("malformed")):
            stream.add(seq)
        else:
            stream.add_malformed(seq)

    def _record(self, kind: AuditKind, body: dict[str, Any]) -> int:
        """Append one audit record (not an accepted event: :meth:`_apply` stores those); return its seq."""
        seq = self.store.audit(kind, body).seq
        self._audited(1)
        return seq

    def _audited(self, count: int) -> None:
        self._unanchored += count
        if self._unanchored >= self._checkpoint_every[0]:
            self._anchor()

    def _anchor(self) -> None:
        """Sign and publish a checkpoint of the audit log's head (with a signing key)."""
        self._unanchored, self._anchored_at = 0, self.clock()
        if self._signing_key is None:
            return
        seq, head = self.store.audit_head
        self.checkpoint = make_checkpoint(seq, head, self._now_text(), self._signing_key)
        self.publish("checkpoint", {"checkpoint": self.checkpoint})

    def tick(self) -> None:
        """Periodic duties (a transport calls this every few hundred ms): report suppressed refusals, and
        checkpoint the audit log if records were added more than ``checkpoint_every[1]`` seconds ago."""
        with self._lock:
            for peer, count in self._refusals.drain().items():
                self._record(AuditKind.REFUSALS_SUPPRESSED, {"peer": peer, "count": count})
            if self._unanchored and self.clock() - self._anchored_at >= self._checkpoint_every[1]:
                self._anchor()
            for authority in self._state.streams:
                self._ask_for_gaps(authority)
            if self._unsnapshotted and self.clock() - self._snapshot_at >= self._snapshot_every[1]:
                self._snapshot()

    def _gaps(self) -> dict[str, tuple[Span, ...]]:
        """Each authority's known gaps, if it has any.

        With these and the consignments, vehicles and directions, all the gate rule reads of the state is whether
        each link is live. A batch of heartbeats (11,520 in a day of ``target_2030``, 78 % of the rule's
        recomputations in ``faults``) names no consignment or vehicle and, with these unchanged, only makes the
        links' ``last_seen`` later: a ruling kept (:meth:`evaluate`) with every link live stays right until its
        oldest ``last_seen`` could time out, so such a batch keeps them."""
        return {name: gaps for name, stream in self._state.streams.items() if (gaps := stream.gaps())}

    def _ask_for_gaps(self, authority: str) -> None:
        """Publish a ``resend`` request for a gap in ``authority``'s stream: when it changes, then every few s."""
        gaps = self._state.streams[authority].gaps()
        if not gaps:
            self._resend_asked.pop(authority, None)
            return
        asked, at = self._resend_asked.get(authority, ((), float("-inf")))
        now = self.clock()
        if asked != gaps or now - at >= RESEND_EVERY_S:
            self._resend_asked[authority] = (gaps, now)
            self.publish("resend", {"authority": authority, "missing": [list(span) for span in gaps]})

    def _index(self, event: AcceptedEvent, received_at: float) -> Callable[[], None]:
        """Fold an accepted event into the in-memory state (O(1)); return what takes it out again."""
        state = self._state
        last_seen = state.last_seen.get(event.authority)
        state.last_seen[event.authority] = received_at if last_seen is None else max(received_at, last_seen)
        stream_before = state.streams[event.authority].copy()
        state.streams[event.authority].add(event.seq)
        key, before_fold, sets_direction = None, None, False
        if event.consignment_id:
            key = (event.consignment_id, event.authority)
            before_fold = state.consignments.get(key)
            state.consignments[key] = (before_fold or ConsignmentFold()).merge(event)
            sets_direction = event.consignment_id not in state.directions
            if sets_direction:
                state.directions[event.consignment_id] = event.direction or ""
        vehicle_key = (event.vehicle_id, event.authority) if event.vehicle_id else None
        before_vehicle = state.vehicles.get(vehicle_key) if vehicle_key else None
        if vehicle_key:
            state.vehicles[vehicle_key] = vehicle_step(before_vehicle, event)

        def undo() -> None:
            state.streams[event.authority] = stream_before
            if last_seen is None:
                del state.last_seen[event.authority]
            else:
                state.last_seen[event.authority] = last_seen
            if key is not None:
                _restore(state.consignments, key, before_fold)
            if vehicle_key is not None:
                _restore(state.vehicles, vehicle_key, before_vehicle)
            if sets_direction:
                del state.directions[event.consignment_id]  # type: ignore[arg-type]

        return undo

    # --- snapshots and replay -------------------------------------------------------------------------------------

    def _snapshot(self) -> None:
        """Store the whole clearance state, tied to the audit log's head by a (signed) ``snapshot`` record.

        A snapshot only shortens restarts: if it cannot be written, that is logged and ingestion carries on."""
        self._unsnapshotted, self._snapshot_at = 0, self.clock()
        text = self._state.to_json()
        body = snapshot_body(text, self.store.audit_head, self._state.events, self._signing_key)
        try:
            with self.store.transaction() as conn:
                record = self.store.append_audit(conn, AuditKind.SNAPSHOT, body)
                self.store.write_snapshot(conn, record.seq, text, self.clock())
        except StoreError:
            log.exception("the clearance snapshot could not be written; the next restart replays more events")
            return
        self._audited(1)

    def _load(self) -> None:
        """Restore the state: from the latest snapshot and the events after it, or by verified replay.

        A snapshot that cannot be trusted (:func:`~fleet.customs.snapshots.check_snapshot`) raises an alarm and
        is left in place as evidence; the state is then rebuilt from every stored event, each re-verified.
        Evidence of tampering the store reports (a dropped trigger) raises an alarm too.
        """
        problems = self.store.integrity_problems()
        stored = self.store.latest_snapshot()
        restored = None
        if stored is not None:
            try:
                restored = self._checked_snapshot(stored.audit_seq, stored.state)
            except SnapshotRejected as exc:
                problems.append(f"clearance snapshot at audit record {stored.audit_seq} not used: {exc}; "
                                "the state was rebuilt by verified replay")
        if restored is None:
            self._state, replay_problems = self._replayed(after=None)
        else:
            self._state, replay_problems = restored
        self._rulings.clear()
        for problem in problems + replay_problems:
            body = {"reason": problem, "via": "replay"}
            self._record(AuditKind.ALARM, body)
            self.publish("alarm", body)
            log.error("customs alarm on start: %s", problem)

    def _checked_snapshot(self, audit_seq: int, text: str) -> tuple[ClearanceState, list[str]]:
        """The snapshot's state with the events after it applied, or :class:`SnapshotRejected`.

        Reads the audit log from the record the snapshot covers on: that record, the snapshot's own, and the
        records after it, each of which must verify and follow the one before."""
        try:
            tail = list(self.store.audit_records(after=audit_seq - 2))
        except (ValueError, RecursionError) as exc:
            raise SnapshotRejected(f"an audit record after it is unreadable ({type(exc).__name__})") from None
        covered, record = (tail[0], tail[1]) if len(tail) > 1 and tail[1].seq == audit_seq else (None, None)
        covered_seq = record.body.get("covers_audit_seq") if record else None
        counted = self.store.count_events(covered_seq) if type(covered_seq) is int else -1
        state = check_snapshot(text, record, covered, counted, self._fleet_keys)
        for previous, later in itertools.pairwise(tail[1:]):
            if later.seq != previous.seq + 1 or later.prev_hash != previous.hash or \
                    record_hash(later.seq, later.recorded_at, later.kind, later.body, later.prev_hash) != later.hash:
                raise SnapshotRejected(f"the audit log after the snapshot is broken at record {later.seq}")
        return self._replayed(after=covered_seq, state=state, records=tail[2:])  # type: ignore[arg-type]

    def _replayed(self, after: int | None, state: ClearanceState | None = None,
                  records: Iterable[AuditRecord] | None = None) -> tuple[ClearanceState, list[str]]:
        """``state`` (empty: a full replay) with the stored events after audit record ``after`` applied, each
        verified as if it had just arrived; and a problem for each event that was not applied.

        Each event must still verify with its authority's key, match its stored digest, and have its
        ``event_accepted`` record in the audit log (after ``after``); one that does not (a row inserted behind
        the fleet's back, a payload no parser should meet) is never applied. Signed refusals in the audit log
        count as heard seqs (no gap). ``records``: the audit records after ``after``, if already read.
        """
        self._state = state or ClearanceState()
        self._rulings.clear()
        audited: dict[str, str | None] = {}
        problems = []
        for record in self.store.audit_records(after=after or 0) if records is None else records:
            body = record.body
            if UNREADABLE_BODY in body:
                problems.append(f"audit record {record.seq} is unreadable (edited behind the fleet's back?)")
            elif record.kind == AuditKind.EVENT_ACCEPTED and isinstance(body.get("event_id"), str):
                audited[body["event_id"]] = body.get("digest")
            elif record.kind == AuditKind.EVENT_REFUSED and body.get("signed") \
                    and body.get("authority") in self.authorities:
                self._hear_refused(body)
            elif record.kind == AuditKind.CROSSING:
                self._state.use_releases(body.get("releases_used"))
        for stored in self.store.events(after_audit_seq=after):
            audited_digest = audited.pop(stored.event_id, None)
            try:
                event = self._replayable(stored, audited_digest)
            except _Refusal as refusal:
                problems.append(f"stored event {safe_text(str(stored.event_id), 64)} not applied: {refusal.reason}")
                self._unapplied[stored.event_id] = Unapplied(stored.authority, stored.seq, refusal.reason, stored.text)
                continue
            self._index(event, stored.received_at)
            self._state.events += 1
        # the other way round: an accepted event whose row is gone (deleted behind the fleet's back) cannot be
        # applied, and its seq stays missing from the authority's stream, which denies until it is resent
        problems += [f"audit log says event {event_id} was accepted, but it is not stored (deleted?): its seq "
                     "counts as missing until the authority resends it" for event_id in audited]
        return self._state, problems

    def _replayable(self, stored: StoredEvent, audited_digest: str | None) -> AcceptedEvent:
        """The stored event, checked as if it had just arrived, or :class:`_Refusal` saying what is wrong."""
        if stored.raw is None:
            raise _Refusal("its stored text is not JSON a parser can read")
        try:
            fields = _as_fields(to_bytes(stored.raw))
        except MalformedInput as exc:
            raise _Refusal(f"malformed: {exc}") from None
        authority = self.authorities.get(str(fields.get("authority")))
        if authority is None or not authority.signed_once(fields):
            raise _Refusal("its signature does not verify")
        if content_digest(fields) != stored.digest or audited_digest != stored.digest:
            raise _Refusal("it has no matching event_accepted record in the audit log")
        try:
            event = CustomsEvent.model_validate(fields, context=STORED)
        except ValidationError:
            raise _Refusal("it is malformed") from None
        if (event.event_id, event.authority, event.seq) != (stored.event_id, stored.authority, stored.seq):
            raise _Refusal("its columns disagree with its content")
        return _accepted(event)

    def verify_replay(self) -> list[str]:
        """Rebuild the state from every stored event, each re-verified, and compare it with the state held now
        (which a restart loaded from a snapshot): the differences, and the events not applied, or []."""
        with self._lock:
            held, unapplied = self._state, dict(self._unapplied)
            try:
                replayed, problems = self._replayed(after=None)
            finally:
                self._state, self._unapplied = held, unapplied  # (a row found edited now was applied as it came)
                self._rulings.clear()
            return problems + [f"the state held differs from a verified replay in its {part}"
                               for part in held.same_as(replayed)]

    # --- queries and decisions ----------------------------------------------------------------------------------

    def link_ages(self) -> dict[str, float | None]:
        now = self.clock()
        seen = self._state.last_seen
        return {name: (now - seen[name]) if name in seen else None
                for name in self.authorities}

    def link_health(self) -> dict[str, Any]:
        """Per authority: seconds since last heard (None: never) and the known gaps in its stream."""
        with self._lock:
            ages = self.link_ages()
            return {name: {"last_heard_s": ages[name],
                           "missing_seqs": [list(span) for span in self._state.streams[name].gaps()]}
                    for name in self.authorities}

    def consignment_state(self, consignment_id: str) -> dict[str, ConsignmentClearance]:
        with self._lock:
            return {name: self._clearance(consignment_id, name) for name in self.authorities}

    def any_in(self, consignments: Iterable[str], statuses: Collection[Status]) -> bool:
        """Either authority holds one of ``consignments`` in one of ``statuses`` (asked by the assignment for
        every waiting order it reads: :meth:`consignment_state` without building its answer)."""
        with self._lock:
            return any(self._clearance(consignment, name).status in statuses
                       for consignment in consignments for name in self.authorities)

    def _clearance(self, consignment_id: str, authority: str) -> ConsignmentClearance:
        fold = self._state.consignments.get((consignment_id, authority))
        return NO_CLEARANCE if fold is None else fold.clearance

    def _vehicle(self, vehicle_id: str, authority: str) -> VehicleClearance:
        latest = self._state.vehicles.get((vehicle_id, authority))
        return VehicleClearance(False) if latest is None else latest[1]

    def clearance_of(self, consignment_id: str) -> dict[str, Any]:
        """The consignment alone, vehicle conditions aside: each authority's status, allowed, reasons."""
        with self._lock:
            state = self.consignment_state(consignment_id)
            reasons = consignment_reasons(consignment_id, state, self._state.used_releases)
            if consignment_id not in self._state.directions:
                reasons.insert(0, f"consignment {consignment_id} is unknown to customs")
            return {**{name: str(c.status) for name, c in state.items()},
                    "direction": self._state.directions.get(consignment_id), "crossing_allowed": not reasons,
                    "reasons": reasons}

    def direction_of(self, consignment_id: str) -> str | None:
        """The direction the consignment's first accepted event declared, None if customs has not named it."""
        with self._lock:
            return self._state.directions.get(consignment_id) or None

    def _crossing_allowed(self, consignment_id: str) -> bool:
        return all(self._clearance(consignment_id, name).released for name in self.authorities)

    def evaluate(self, vehicle_id: str, direction: str, consignments: Iterable[str] = ()) -> GateDecision:
        """The gate rule's answer now, without recording it.

        The answer is kept until an event that changes what the rule reads is ingested (a heartbeat does not:
        :meth:`_gaps`), the state is restored, or an authority's link could time out, whichever comes first: while
        both links are live the rule reads nothing that time alone changes. The dispatch loop asks it for every
        vehicle bound for the crossing at every tick (a day of ``target_2030``: 433,000 times, 19,400 events)."""
        with self._lock:
            key = (vehicle_id, direction, tuple(dict.fromkeys(consignments)))
            kept = self._rulings.get(key)
            if kept is not None and self.clock() - self._rulings_oldest <= self.link_timeout_s:
                return kept
            decision = self._rule(*key)
            oldest = self._oldest_heard()
            # (a link never heard of, or down: its state is in the reasons, nothing kept)
            if oldest is not None and self.clock() - oldest <= self.link_timeout_s:
                self._rulings[key] = decision
                self._rulings_oldest = oldest  # the others were kept with every link live too: they hold as long
            return decision

    def _oldest_heard(self) -> float | None:
        """The earliest of the links' ``last_seen``; None while a link was never heard."""
        seen = self._state.last_seen
        if not all(name in seen for name in self.authorities):
            return None
        return min(seen[name] for name in self.authorities)

    def _rule(self, vehicle_id: str, direction: str, consignments: tuple[str, ...]) -> GateDecision:
        return gate_rule(
                vehicle_id, direction, self.authorities,
                vehicle={name: self._vehicle(vehicle_id, name) for name in self.authorities},
                consignments={c: self.consignment_state(c) for c in consignments},
                consignment_directions={c: self._state.directions.get(c) for c in consignments},
                link_age_s=self.link_ages(), link_timeout_s=self.link_timeout_s,
                stream_gaps={name: self._state.streams[name].gaps() for name in self.authorities},
                used_releases=self._state.used_releases)

    def _now_text(self) -> str:
        """The injected clock's time as the envelope writes times: a simulated day's audit log carries the
        simulated times of its decisions and crossings, not the machine's."""
        return format_time(datetime.fromtimestamp(self.clock(), UTC))

    def decide(self, vehicle_id: str, direction: str, consignments: Iterable[str] = ()) -> GateDecision:
        """Evaluate the gate rule, record the decision in the audit log and publish it to both authorities.

        For the dispatcher, when the fleet acts on the answer; a mere question is :meth:`evaluate`.
        """
        with self._lock:
            decision = self.evaluate(vehicle_id, direction, consignments)
            audit_seq = self._record(AuditKind.DECISION, decision.as_dict())
            self.publish("decision", {**decision.as_dict(), "audit_seq": audit_seq,
                                      "decided_at": self._now_text()})
            return replace(decision, audit_seq=audit_seq)

    def record_crossing(self, vehicle_id: str, direction: str, consignments: Iterable[str],
                        decision_audit_seq: int | None = None, *, handed_over_by: str | None = None,
                        handed_over_by_decision_seq: int | None = None, at: str | None = None,
                        released: bool = True) -> None:
        """The custody handoff, recorded and published to both sides: a vehicle entered the crossing lanes, or
        (relay) ``handed_over_by`` passed the load to ``vehicle_id`` at the handoff pad ``at``, each vehicle on
        the gate decision (audit seq) that let it onto the pad. ``released`` False: a vehicle was found across
        with no crossing released to it (no decision; ``"released": false`` in the record)."""
        with self._lock:
            consignments = list(consignments)
            body: dict[str, Any] = {"vehicle_id": vehicle_id, "direction": direction, "consignments": consignments,
                                    "decision_audit_seq": decision_audit_seq, "at": self._now_text()}
            used = self._releases_of(consignments)
            if used:
                body["releases_used"] = used
            if not released:
                body["released"] = False
            if handed_over_by is not None:
                body |= {"handed_over_by": handed_over_by, "handed_over_by_decision_seq": handed_over_by_decision_seq,
                         "handoff": at}
            self._record(AuditKind.CROSSING, body)
            if used:
                self._state.use_releases(used)
                self._rulings.clear()
            self.publish("crossing", body)

    def _releases_of(self, consignments: Iterable[str]) -> dict[str, dict[str, int]]:
        """The releases standing for ``consignments``, by authority (``{consignment: {authority: seq}}``): what a
        crossing with them aboard uses up. Found by trying it: a consignment that had crossed could cross again on
        its old release (the gate rule read only that customs had released it; the order service's check of a
        consignment booked twice was all that stopped it)."""
        used: dict[str, dict[str, int]] = {}
        for consignment in consignments:
            for name in self.authorities:
                seq = self._clearance(consignment, name).release_seq
                if seq is not None:
                    used.setdefault(consignment, {})[name] = seq
        return used

    def vehicle_state(self, vehicle_id: str) -> dict[str, VehicleClearance]:
        with self._lock:
            return {name: self._vehicle(vehicle_id, name) for name in self.authorities}


_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


def _restore(table: dict[_Key, _Value], key: _Key, was: _Value | None) -> None:
    """Put back what ``table`` held at ``key`` before: ``was``, or nothing."""
    if was is None:
        del table[key]
    else:
        table[key] = was


def _as_bytes(raw: bytes | str | Mapping[str, Any]) -> bytes:
    try:
        if isinstance(raw, bytes):
            return raw
        if isinstance(raw, str):
            return raw.encode("utf-8")
        return to_bytes(raw)
    except (MalformedInput, UnicodeEncodeError) as exc:
        raise _Refusal(f"malformed: {safe_text(str(exc), 120)}") from None


def _as_fields(data: bytes) -> dict[str, Any]:
    """The event's fields, parsed within every bound (size, depth, number length, valid Unicode)."""
    try:
        fields = parse_bounded(data, MAX_EVENT_BYTES, MAX_JSON_DEPTH, MAX_NUMBER_CHARS)
    except MalformedInput as exc:
        raise _Refusal(f"malformed: {exc}") from None
    if not isinstance(fields, dict):
        raise _Refusal("malformed: an event is a JSON object")
    return fields


def _accepted(event: CustomsEvent) -> AcceptedEvent:
    return AcceptedEvent(event.event_id, event.authority, event.seq, event.type, event.consignment_id,
                         event.vehicle_id, event.direction, dict(event.payload))
