"""Clearance state from accepted events, and the gate rule (DESIGN.md §3) as one pure function.

State is always derived from an authority's events **in seq order**, whatever order they arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

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

    @property
    def released(self) -> bool:
        return self.status == Status.RELEASED


@dataclass(frozen=True)
class VehicleClearance:
    authorized: bool
    event_id: str | None = None


_BASE_STATUS = {
    EventType.DECLARATION_ACCEPTED: Status.DECLARED,
    EventType.INSPECTION_REQUIRED: Status.INSPECTION,
    EventType.INSPECTION_PASSED: Status.INSPECTED,
    EventType.RELEASED: Status.RELEASED,
    EventType.REVOKED: Status.REVOKED,
}


NO_CLEARANCE = ConsignmentClearance(Status.PENDING)


def clearance_step(clearance: ConsignmentClearance, event: AcceptedEvent) -> ConsignmentClearance:
    """The clearance after one more event, whose seq is higher than every event already folded in.

    ``hold`` overrides until ``hold.lifted``; ``revoked`` stands until a later ``released``; a channel
    assignment is recorded without moving the status.
    """
    base, on_hold, channel = clearance.base, clearance.on_hold, clearance.channel
    if event.type == EventType.HOLD:
        on_hold = True
    elif event.type == EventType.HOLD_LIFTED:
        on_hold = False
    elif event.type == EventType.CHANNEL_ASSIGNED:
        channel = str(event.payload.get("channel"))
    elif event.type in _BASE_STATUS:
        # a late-arriving step of the ordinary flow never undoes a release or a revocation
        new = _BASE_STATUS[event.type]
        if new in (Status.RELEASED, Status.REVOKED) or base not in (Status.RELEASED, Status.REVOKED):
            base = new
    return ConsignmentClearance(Status.HOLD if on_hold else base, on_hold, channel, event.event_id, base)


def consignment_clearance(events: Iterable[AcceptedEvent]) -> ConsignmentClearance:
    """Fold one authority's events about one consignment, in seq order (see :func:`clearance_step`)."""
    clearance = NO_CLEARANCE
    for event in sorted(events, key=lambda e: e.seq):
        clearance = clearance_step(clearance, event)
    return clearance


def vehicle_clearance(events: Iterable[AcceptedEvent]) -> VehicleClearance:
    """The latest (by seq) vehicle event decides: authorized or not."""
    latest = max(events, key=lambda e: e.seq, default=None)
    if latest is None:
        return VehicleClearance(False)
    return VehicleClearance(latest.type == EventType.VEHICLE_AUTHORIZED, latest.event_id)


@dataclass(frozen=True)
class GateDecision:
    vehicle_id: str
    direction: str
    consignments: tuple[str, ...]
    allowed: bool
    reasons: tuple[str, ...]
    relied_on: tuple[str, ...]  # event ids the decision rests on

    def as_dict(self) -> dict[str, Any]:
        return {"vehicle_id": self.vehicle_id, "direction": self.direction, "consignments": list(self.consignments),
                "crossing_allowed": self.allowed, "reasons": list(self.reasons), "relied_on": list(self.relied_on)}


def consignment_reasons(consignment_id: str, clearance: Mapping[str, ConsignmentClearance]) -> list[str]:
    """Why each authority does not (yet) let this consignment cross; empty when all released it."""
    reasons = []
    for authority, c in clearance.items():
        if c.on_hold:
            reasons.append(f"{authority}: consignment {consignment_id} on hold")
        elif not c.released:
            reasons.append(f"{authority}: consignment {consignment_id} is {c.status}, not released")
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
) -> GateDecision:
    """May ``vehicle_id`` enter the crossing lanes in ``direction`` with ``consignments`` aboard?

    Allowed only if, for every configured authority: its latest vehicle event for the vehicle is
    ``vehicle.authorized``; every consignment aboard is released by it with no hold, and travels in
    ``direction``; its link is live (a valid event or heartbeat within ``link_timeout_s``); and its stream
    has no known gap (``stream_gaps``: missing seqs below its latest event — what is missing could be a
    ``hold``). An empty vehicle needs the vehicle, link and stream conditions only. Every failing condition
    is one reason.
    """
    reasons: list[str] = []
    relied: list[str] = []
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
        v = vehicle.get(authority, VehicleClearance(False))
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
        full = {a: per_authority.get(a, ConsignmentClearance(Status.PENDING)) for a in authorities}
        reasons += consignment_reasons(consignment_id, full)
        relied += [c.latest_event_id for c in full.values() if c.latest_event_id]
    return GateDecision(vehicle_id, direction, tuple(consignments), not reasons, tuple(reasons), tuple(relied))
