"""Clearance state from accepted events, and the gate rule (DESIGN.md §3) as one pure function.

State is always derived from an authority's events **in seq order**, whatever order they arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from fleet.customs.envelope import EventType
from fleet.customs.streams import Span, describe


class Status(StrEnum):
    PENDING = "pending"  # nothing heard yet
    DECLARED = "declared"
    INSPECTION = "inspection"  # inspection required, not yet passed
    INSPECTED = "inspected"
    RELEASED = "released"
    HOLD = "hold"  # effective status while a hold stands, whatever lies beneath
    REVOKED = "revoked"


@dataclass(frozen=True)
class AcceptedEvent:
    """The part of an accepted event that clearance depends on."""

    event_id: str
    authority: str
    seq: int
    type: EventType
    consignment_id: str | None = None
    vehicle_id: str | None = None
    direction: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsignmentClearance:
    """One authority's view of one consignment."""

    status: Status
    on_hold: bool = False
    channel: str | None = None
    latest_event_id: str | None = None  # the event with the highest seq: what a decision relies on
    base: Status = Status.PENDING  # the ordinary flow's status, beneath a hold
    latest_seq: int | None = None  # that event's seq
    release_seq: int | None = None  # the seq of the release that stands (beneath a hold too), if one does

    @property
    def released(self) -> bool:
        return self.status == Status.RELEASED


@dataclass(frozen=True)
class VehicleClearance:
    authorized: bool
    event_id: str | None = None  # the latest vehicle event by seq, which decides
    seq: int | None = None

    @property
    def status(self) -> str:
        """``authorized``, ``revoked`` (its latest event is a ``vehicle.revoked``), or ``pending`` (none heard)."""
        return "authorized" if self.authorized else "revoked" if self.event_id else str(Status.PENDING)


_BASE_STATUS: dict[EventType, Status] = {
    EventType.DECLARATION_ACCEPTED: Status.DECLARED,
    EventType.INSPECTION_REQUIRED: Status.INSPECTION,
    EventType.INSPECTION_PASSED: Status.INSPECTED,
    EventType.RELEASED: Status.RELEASED,
    EventType.REVOKED: Status.REVOKED,
}


#: Shared immutable defaults, not built anew at each look-up: the gate rule looks up every authority's clearance
#: of the vehicle and of each consignment aboard at every request, and most of them are there.
NO_CLEARANCE = ConsignmentClearance(Status.PENDING)
NOT_AUTHORIZED = VehicleClearance(False)

Register = tuple[int, str]  # (seq, value): the value set by the highest seq seen so far
StatusRegister = tuple[int, Status]  # a register of statuses: the release or revocation, the ordinary flow's step
_Value = TypeVar("_Value", bound=str)


def _later(register: tuple[int, _Value] | None, seq: int, value: _Value) -> tuple[int, _Value]:
    return (seq, value) if register is None or seq > register[0] else register


@dataclass(frozen=True)
class ConsignmentFold:
    """One authority's events about one consignment, folded so that **any arrival order** gives the answer
    of folding them in seq order — in O(1) per event, with no history kept.

    The seq-order rule (``hold`` overrides until ``hold.lifted``; ``revoked`` stands until a later
    ``released``; once released or revoked, a later step of the ordinary flow does not undo it; a channel
    assignment does not move the status) is a handful of "latest by seq" registers: the latest hold or
    lift, the latest channel, the latest release or revocation (which, if any, is the status beneath a
    hold), the latest ordinary step (the status otherwise), and the latest event overall.
    """

    latest: Register | None = None  # -> event_id
    hold: Register | None = None  # -> "1" on hold, "" lifted
    channel: Register | None = None
    final: StatusRegister | None = None  # released | revoked
    flow: StatusRegister | None = None  # declared | inspection | inspected
    clearance: ConsignmentClearance = NO_CLEARANCE

    def merge(self, event: AcceptedEvent) -> ConsignmentFold:
        seq, kind = event.seq, event.type
        hold, channel, final, flow = self.hold, self.channel, self.final, self.flow
        if kind in (EventType.HOLD, EventType.HOLD_LIFTED):
            hold = _later(hold, seq, "1" if kind == EventType.HOLD else "")
        elif kind == EventType.CHANNEL_ASSIGNED:
            channel = _later(channel, seq, str(event.payload.get("channel")))
        elif kind in (EventType.RELEASED, EventType.REVOKED):
            final = _later(final, seq, _BASE_STATUS[kind])
        elif kind in _BASE_STATUS:
            flow = _later(flow, seq, _BASE_STATUS[kind])
        return ConsignmentFold.of(_later(self.latest, seq, event.event_id), hold, channel, final, flow)

    @classmethod
    def of(cls, latest: Register | None, hold: Register | None, channel: Register | None,
           final: StatusRegister | None, flow: StatusRegister | None) -> ConsignmentFold:
        base = final[1] if final else flow[1] if flow else Status.PENDING
        on_hold = bool(hold and hold[1])
        clearance = ConsignmentClearance(Status.HOLD if on_hold else base, on_hold, channel[1] if channel else None,
                                         latest[1] if latest else None, base, latest[0] if latest else None,
                                         final[0] if final and final[1] == Status.RELEASED else None)
        return cls(latest, hold, channel, final, flow, clearance)

    def to_json(self) -> list[Register | None]:
        return [self.latest, self.hold, self.channel, self.final, self.flow]

    @classmethod
    def from_json(cls, data: Any) -> ConsignmentFold:
        """From :meth:`to_json`; ValueError if ``data`` is not one."""
        if not isinstance(data, list) or len(data) != 5:
            raise ValueError("a consignment fold is a list of 5 registers")
        latest, hold, channel, final, flow = (_register(r) for r in data)
        final, flow = ((r[0], Status(r[1])) if r else None for r in (final, flow))
        return cls.of(latest, hold, channel, final, flow)


def _register(data: Any) -> Register | None:
    if data is None:
        return None
    if not (isinstance(data, list) and len(data) == 2 and type(data[0]) is int and isinstance(data[1], str)):
        raise ValueError(f"not a (seq, value) register: {str(data)[:60]}")
    return data[0], data[1]


def consignment_clearance(events: Iterable[AcceptedEvent]) -> ConsignmentClearance:
    """Fold one authority's events about one consignment (in any order: see :class:`ConsignmentFold`)."""
    fold = ConsignmentFold()
    for event in events:
        fold = fold.merge(event)
    return fold.clearance


def vehicle_step(latest: tuple[int, VehicleClearance] | None, event: AcceptedEvent) -> tuple[int, VehicleClearance]:
    """The latest (by seq) vehicle event decides: authorized or not. O(1) per event, in any arrival order."""
    if latest is not None and latest[0] > event.seq:
        return latest
    return event.seq, VehicleClearance(event.type == EventType.VEHICLE_AUTHORIZED, event.event_id, event.seq)


@dataclass(frozen=True)
class GateDecision:
    vehicle_id: str
    direction: str
    consignments: tuple[str, ...]
    allowed: bool
    reasons: tuple[str, ...]
    relied_on: tuple[str, ...]  # event ids the decision rests on
    audit_seq: int | None = None  # the decision's own audit record, once :meth:`CustomsGate.decide` recorded it
    #: what the rule read: each authority's clearance of the vehicle, and of each consignment aboard (kept as read,
    #: turned into text only by :meth:`as_dict`: the rule runs far more often than a decision is recorded)
    vehicle_read: Mapping[str, VehicleClearance] = field(default_factory=dict)
    consignments_read: Mapping[str, Mapping[str, ConsignmentClearance]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"vehicle_id": self.vehicle_id, "direction": self.direction, "consignments": list(self.consignments),
                "crossing_allowed": self.allowed, "reasons": list(self.reasons), "relied_on": list(self.relied_on),
                "clearances": self.clearances()}

    def clearances(self) -> dict[str, dict[str, Any]]:
        """Per authority, the status the rule read of the vehicle and of each consignment aboard, with the latest
        event (by seq) it rests on, so a decision's record reads on its own:
        ``{authority: {"vehicle": {status, event_id, seq}, "consignments": {id: {status, event_id, seq}}}}``."""
        return {authority: {"vehicle": _status(v.status, v.event_id, v.seq), "consignments": {
            consignment_id: _status(str(c.status), c.latest_event_id, c.latest_seq)
            for consignment_id, per_authority in self.consignments_read.items()
            for c in (per_authority[authority],)}}
            for authority, v in self.vehicle_read.items()}


def _status(status: str, event_id: str | None, seq: int | None) -> dict[str, Any]:
    return {"status": status, "event_id": event_id, "seq": seq}


def consignment_reasons(consignment_id: str, clearance: Mapping[str, ConsignmentClearance],
                        used: Mapping[tuple[str, str], int] | None = None) -> list[str]:
    """Why each authority does not (yet) let this consignment cross; empty when all released it and no crossing
    has used those releases. ``used``: (consignment, authority) -> the seq of the release its last crossing was
    made on (``ClearanceState.used_releases``)."""
    reasons = []
    for authority, c in clearance.items():
        if c.on_hold:
            reasons.append(f"{authority}: consignment {consignment_id} on hold")
        elif not c.released:
            reasons.append(f"{authority}: consignment {consignment_id} is {c.status}, not released")
    spent = sorted(authority for authority, c in clearance.items()
                   if c.released and used and used.get((consignment_id, authority)) == c.release_seq)
    if spent:
        reasons.append(f"consignment {consignment_id} crossed already on the release of {' and '.join(spent)}: a "
                       "release lets a consignment cross once (customs would release it again)")
    return reasons


def gate_rule(
    vehicle_id: str,
    direction: str,
    authorities: Iterable[str],
    vehicle: Mapping[str, VehicleClearance],
    consignments: Mapping[str, Mapping[str, ConsignmentClearance]],
    consignment_directions: Mapping[str, str | None],
    link_age_s: Mapping[str, float | None],
    link_timeout_s: float,
    stream_gaps: Mapping[str, tuple[Span, ...]] | None = None,
    used_releases: Mapping[tuple[str, str], int] | None = None,
) -> GateDecision:
    """May ``vehicle_id`` enter the crossing lanes in ``direction`` with ``consignments`` aboard?

    Allowed only if, for every configured authority: its latest vehicle event for the vehicle is
    ``vehicle.authorized``; every consignment aboard is released by it with no hold, and travels in
    ``direction``; its link is live (a valid event or heartbeat within ``link_timeout_s``); and its stream
    has no known gap (``stream_gaps``: missing seqs below its latest event — what is missing could be a
    ``hold``); and no crossing was made on those releases already (``used_releases``: a consignment crosses once
    per release). An empty vehicle needs the vehicle, link and stream conditions only. Every failing condition
    is one reason.
    """
    reasons: list[str] = []
    relied: list[str] = []
    vehicle_read: dict[str, VehicleClearance] = {}
    consignments_read: dict[str, dict[str, ConsignmentClearance]] = {}
    authorities = list(authorities)
    for authority in authorities:
        gaps = (stream_gaps or {}).get(authority)
        if gaps:
            reasons.append(f"{authority}: events missing from its stream (seq {describe(gaps)}), resend requested")
        age = link_age_s.get(authority)
        if age is None:
            reasons.append(f"{authority} link down: never heard from")
        elif age > link_timeout_s:
            reasons.append(f"{authority} link down for {age:.0f} s")
        v = vehicle_read[authority] = vehicle.get(authority, NOT_AUTHORIZED)
        if v.event_id:
            relied.append(v.event_id)
        if not v.authorized:
            reasons.append(f"{authority}: vehicle {vehicle_id} not authorized")
    for consignment_id, per_authority in consignments.items():
        travels = consignment_directions.get(consignment_id)
        if travels is None:
            reasons.append(f"consignment {consignment_id} is unknown to customs")
        elif travels != direction:
            reasons.append(f"consignment {consignment_id} travels {travels}, not {direction}")
        full = consignments_read[consignment_id] = {a: per_authority.get(a, NO_CLEARANCE) for a in authorities}
        reasons += consignment_reasons(consignment_id, full, used_releases)
        relied += [c.latest_event_id for c in full.values() if c.latest_event_id]
    return GateDecision(vehicle_id, direction, tuple(consignments), not reasons, tuple(reasons), tuple(relied),
                        vehicle_read=vehicle_read, consignments_read=consignments_read)
