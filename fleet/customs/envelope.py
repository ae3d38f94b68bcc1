"""The customs event envelope (DESIGN.md §3): its fields, their checks, and its canonical JSON.

The signature covers the canonical JSON of every field but ``signature``: keys sorted, separators
``,`` and ``:``, UTF-8 (``ensure_ascii=False``).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator, model_validator

AUTHORITY_PATTERN = r"^[A-Z][A-Z0-9_]{1,31}$"
CONSIGNMENT_PATTERN = r"^[A-Z]{2}-[A-Z0-9]{6,24}$"
VEHICLE_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"  # ROS-name-safe: it becomes the vehicle's namespace
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
DIRECTION_PATTERN = r"^[A-Z]{2}->[A-Z]{2}$"
#: Each pattern in the words a refusal gives in place of pydantic's "String should match pattern '^[A-Z]{2}-...'"
#: (fleet/api/main.py): what the caller can act on, with an example.
PATTERN_WORDS = {
    AUTHORITY_PATTERN: "an authority is 2 to 32 capital letters, digits or _, the first a letter, e.g. VN_CUSTOMS",
    CONSIGNMENT_PATTERN: "a consignment id is two capital letters, a hyphen and 6 to 24 capital letters or digits, "
                         "e.g. VN-000100000001",
    VEHICLE_PATTERN: "a vehicle id is 1 to 63 lower-case letters, digits or _, the first a letter, e.g. agv_001",
    UUID_PATTERN: "an event id is a UUID in lower case, e.g. 3f2b8c1e-9d4a-4e7b-8a6f-0c1d2e3f4a5b",
    DIRECTION_PATTERN: "a direction is the side it leaves, -> and the side it goes to, e.g. VN->CN",
}
SEQ_RANGE = range(1, 2**53)  # each authority numbers its events 1, 2, 3, ...; a JSON number stays exact below 2^53
EARLIEST_ISSUED_AT = datetime(2000, 1, 1, tzinfo=UTC)  # anything earlier is a client's bug, not a customs event
#: RFC 3339's date-time (§5.6): date, "T", time with seconds, an optional fraction, then "Z" or an offset ±hh:mm
#: ("t" and "z" may be lower case, as the RFC allows). Not Unix time as text, a space for the "T", an offset without
#: its colon or a time without seconds: ISO 8601 forms other parsers read otherwise or not at all
ISSUED_AT_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
_ISSUED_AT = re.compile(ISSUED_AT_PATTERN, re.ASCII)
#: :meth:`CustomsEvent.model_validate`'s ``context`` for an event the fleet stored when it accepted it: its
#: ``issued_at`` is read as it was then (any ISO 8601 text with a zone, before RFC 3339 was required), so a restart
#: re-verifying it does not refuse what was accepted
STORED = {"stored": True}


class EventType(StrEnum):
    DECLARATION_ACCEPTED = "declaration.accepted"
    CHANNEL_ASSIGNED = "channel.assigned"
    INSPECTION_REQUIRED = "inspection.required"
    INSPECTION_PASSED = "inspection.passed"
    RELEASED = "released"
    HOLD = "hold"
    HOLD_LIFTED = "hold.lifted"
    REVOKED = "revoked"
    VEHICLE_AUTHORIZED = "vehicle.authorized"
    VEHICLE_REVOKED = "vehicle.revoked"
    HEARTBEAT = "heartbeat"


CONSIGNMENT_TYPES = frozenset({
    EventType.DECLARATION_ACCEPTED, EventType.CHANNEL_ASSIGNED, EventType.INSPECTION_REQUIRED,
    EventType.INSPECTION_PASSED, EventType.RELEASED, EventType.HOLD, EventType.HOLD_LIFTED, EventType.REVOKED,
})
VEHICLE_TYPES = frozenset({EventType.VEHICLE_AUTHORIZED, EventType.VEHICLE_REVOKED})
CHANNELS = ("green", "yellow", "red")


class CustomsEvent(BaseModel):
    """One signed event from a customs authority. Construction validates every field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(pattern=UUID_PATTERN)
    authority: str = Field(pattern=AUTHORITY_PATTERN)
    seq: StrictInt = Field(ge=SEQ_RANGE.start, lt=SEQ_RANGE.stop)  # a JSON number: "5" and true are refused
    issued_at: datetime = Field(json_schema_extra={"pattern": ISSUED_AT_PATTERN})
    type: EventType
    consignment_id: str | None = Field(default=None, pattern=CONSIGNMENT_PATTERN)
    vehicle_id: str | None = Field(default=None, pattern=VEHICLE_PATTERN)
    direction: str | None = Field(default=None, pattern=DIRECTION_PATTERN)
    payload: dict[str, Any] = Field(default_factory=dict)
    signature: str = Field(min_length=1, max_length=200)

    @field_validator("issued_at", mode="before")
    @classmethod
    def _text(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or len(value) > 40 or \
                not (_ISSUED_AT.match(value) or (info.context or {}).get("stored")):
            shown = f"{value[:40]!r}" if isinstance(value, str) else f"a JSON {type(value).__name__}"
            raise ValueError(f"issued_at must be RFC 3339 text with seconds and a zone, e.g. 2026-11-22T10:00:00Z or "
                             f"2026-11-22T17:00:00+07:00; got {shown}")
        return value

    @field_validator("issued_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("issued_at must carry a time zone (e.g. 2026-11-22T10:00:00Z)")
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("issued_at is out of range") from None
        if utc < EARLIEST_ISSUED_AT:
            raise ValueError(f"issued_at is before {EARLIEST_ISSUED_AT.year}")
        return utc

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> CustomsEvent:
        if self.type in CONSIGNMENT_TYPES:
            if not self.consignment_id or not self.direction:
                raise ValueError(f"a {self.type} event needs consignment_id and direction")
            if self.vehicle_id is not None:
                raise ValueError(f"a {self.type} event concerns a consignment, not a vehicle: vehicle_id must be null")
        elif self.type in VEHICLE_TYPES:
            if not self.vehicle_id:
                raise ValueError(f"a {self.type} event needs vehicle_id")
            if self.consignment_id is not None:
                raise ValueError(f"a {self.type} event concerns a vehicle: consignment_id must be null")
        elif self.consignment_id is not None or self.vehicle_id is not None:
            raise ValueError("a heartbeat names no consignment and no vehicle")
        if self.type == EventType.CHANNEL_ASSIGNED and self.payload.get("channel") not in CHANNELS:
            raise ValueError(f"channel.assigned needs payload.channel in {list(CHANNELS)}")
        return self


def format_time(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def canonical_json(fields: dict[str, Any]) -> bytes:
    """Keys sorted, separators ``,`` and ``:``, UTF-8: the bytes that are signed (DESIGN.md §3)."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_bytes(raw: dict[str, Any]) -> bytes:
    """What the signature covers: the canonical JSON of every field as received, but ``signature``."""
    return canonical_json({k: v for k, v in raw.items() if k != "signature"})


def content_digest(raw: dict[str, Any]) -> str:
    """Identifies an event's content (everything but the signature): equal digests = the same event."""
    return hashlib.sha256(signed_bytes(raw)).hexdigest()
