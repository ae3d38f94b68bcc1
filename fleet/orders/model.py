"""A transport order: one or two containers from a pickup dock on one side to a drop dock on the other.

The lifecycle is a table of allowed transitions; anything else is a programming error, refused loudly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from fleet.customs.envelope import CONSIGNMENT_PATTERN, DIRECTION_PATTERN

#: What one AGV carries: two 20' containers (or one 40').
MAX_CONTAINERS = 2


class OrderState(StrEnum):
    CREATED = "created"
    ASSIGNED = "assigned"
    TO_PICKUP = "to_pickup"
    LOADED = "loaded"
    AWAITING_CLEARANCE = "awaiting_clearance"
    CLEARED = "cleared"
    CROSSING = "crossing"
    TO_DROP = "to_drop"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"


S = OrderState
#: Allowed transitions. Back to CREATED: the vehicle was lost before loading, the order waits for another. Back
#: from CLEARED to AWAITING_CLEARANCE: the clearance was lost before the vehicle set off across. Straight to
#: CROSSING from LOADED or AWAITING_CLEARANCE: a vehicle released across by a process that died before it wrote
#: CLEARED (the move is written at the end of the tick).
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.CREATED: frozenset({S.ASSIGNED, S.CANCELLED, S.FAILED}),
    S.ASSIGNED: frozenset({S.TO_PICKUP, S.CREATED, S.CANCELLED, S.FAILED}),
    S.TO_PICKUP: frozenset({S.LOADED, S.CREATED, S.CANCELLED, S.FAILED}),
    S.LOADED: frozenset({S.AWAITING_CLEARANCE, S.CLEARED, S.CROSSING, S.CANCELLED, S.FAILED}),
    S.AWAITING_CLEARANCE: frozenset({S.CLEARED, S.CROSSING, S.CANCELLED, S.FAILED}),
    S.CLEARED: frozenset({S.CROSSING, S.AWAITING_CLEARANCE, S.CANCELLED, S.FAILED}),
    S.CROSSING: frozenset({S.TO_DROP, S.FAILED}),  # a cancel waits until the far side is reached
    S.TO_DROP: frozenset({S.DELIVERED, S.CANCELLED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}
ACTIVE_STATES = frozenset(s for s, nexts in TRANSITIONS.items() if nexts)
#: The states in which the containers are aboard the vehicle.
LOADED_STATES = frozenset({S.LOADED, S.AWAITING_CLEARANCE, S.CLEARED, S.CROSSING, S.TO_DROP})
#: Loaded, the gate rule has not yet let it go on past its gate (or, if it never stopped at one, across).
NOT_YET_CLEARED = frozenset({S.LOADED, S.AWAITING_CLEARANCE})
#: Loaded, not yet over the border line (the custody handoff is still to come).
SHORT_OF_THE_LINE = NOT_YET_CLEARED | {S.CLEARED}
#: Loaded and taken across: the custody handoff was recorded, the consignments' crossing is used.
ACROSS = LOADED_STATES - SHORT_OF_THE_LINE


def seconds_held_at_gate(timeline: Iterable[tuple[float, str]]) -> float:
    """What the gate held an order: its seconds in ``awaiting_clearance``, each stay until the transition after it
    (from the gate to its release past it, and again after a clearance lost on the way to the border line).
    ``timeline``: its transitions in order, as (time, state entered)."""
    held, since = 0.0, None
    for at, state in timeline:
        if since is not None:
            held += at - since
        since = at if state == S.AWAITING_CLEARANCE else None
    return held


def _seconds_since_the_epoch(value: Any) -> Any:
    """An ISO 8601 time with its UTC offset turned into seconds since the epoch; a number left as it is. A time
    without its offset is refused, not guessed: the two sides of this border keep different clocks (Viet Nam
    UTC+7, China UTC+8), so a naive "14:00" is an hour apart depending on who wrote it."""
    if isinstance(value, bool):  # a number to Python: true was the moment 1970-01-01T00:00:01Z
        raise PydanticCustomError("not_a_time", "not a time but a boolean: give seconds since the epoch or ISO 8601 "
                                                "with its UTC offset, e.g. 2026-12-01T14:00:00+07:00")
    if not isinstance(value, str):
        return value
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("not_a_time", "not a time: give seconds since the epoch or ISO 8601 with its UTC "
                                                "offset, e.g. 2026-12-01T14:00:00+07:00") from None
    if parsed.tzinfo is None:
        raise PydanticCustomError("no_utc_offset", "a time without its UTC offset is ambiguous at this border (Viet "
                                  "Nam UTC+7, China UTC+8): write it with one, e.g. {value}+07:00", {"value": value})
    return parsed.timestamp()


def _as_customs_writes_it(consignment_id: Any) -> Any:
    """A consignment id in upper case, without the spaces around it: customs writes every one in upper case (its
    event with another is refused, CONSIGNMENT_PATTERN), so "vn-000100000001" can only mean VN-000100000001, and the
    gate, matching ids exactly, finds the order's consignments in customs' events. ASCII only: the dotless i (U+0131) in
    upper case is "I", and a letter from another script is a mistake to refuse, not to turn into another id."""
    if isinstance(consignment_id, str) and consignment_id.isascii():
        return consignment_id.strip().upper()
    return consignment_id


def _consignment_ids(value: Any) -> Any:
    """An order's consignment ids as customs writes them, and how many one order carries said in words (pydantic
    says "List should have at most 2 items after validation")."""
    if not isinstance(value, list):
        return value
    if not value:
        raise PydanticCustomError("too_few_consignments", "at least one consignment: the consignment id of each "
                                                          "container, e.g. VN-000100000001")
    if len(value) > MAX_CONTAINERS:
        raise PydanticCustomError(
            "too_many_consignments", "at most {most} consignments on one order (one AGV carries two 20' containers "
            "or one 40'): {given} given; give the others an order of their own",
            {"most": MAX_CONTAINERS, "given": len(value)})
    return [_as_customs_writes_it(item) for item in value]


def moment_in_words(seconds: float) -> str:
    """A moment as the API's sentences write it (a waiting order's reason, an alarm): "2030-01-01 01:00 UTC". In UTC,
    named: the words are read on both sides of the border (Viet Nam UTC+7, China UTC+8); the console shows each such
    moment in the dispatcher's own zone (fleet/console/js/dom.js, ``inLocalTime``, which reads this form)."""
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%d %H:%M} UTC"


#: The last moment an order may name: 9999-12-31T23:59:59Z (what a browser or an ISO 8601 date can still show).
LAST_INSTANT = 253_402_300_799.0
#: A moment: seconds since the epoch, or ISO 8601 with its UTC offset (stored and answered as seconds).
Instant = Annotated[float, BeforeValidator(_seconds_since_the_epoch),
                    Field(ge=0, le=LAST_INSTANT, allow_inf_nan=False), WithJsonSchema({
    "anyOf": [{"type": "number", "minimum": 0, "maximum": LAST_INSTANT}, {"type": "string", "format": "date-time"}],
    "description": "seconds since the epoch, or ISO 8601 with its UTC offset (e.g. 2026-12-01T14:00:00+07:00)"})]


class OrderCreate(BaseModel):
    """What a dispatcher asks for. Times are seconds since the epoch or ISO 8601 with their UTC offset; the order
    answers them as seconds since the epoch."""

    model_config = ConfigDict(extra="forbid")
    consignments: Annotated[list[Annotated[str, StringConstraints(pattern=CONSIGNMENT_PATTERN)]],
                            BeforeValidator(_consignment_ids)] = Field(
        min_length=1, max_length=MAX_CONTAINERS, description="consignment ids of the containers (one per container); "
                                                             "one in lower case is taken in upper case, as customs "
                                                             "writes it")
    pickup: str = Field(min_length=1, max_length=64, description="dock id where the containers are loaded")
    drop: str = Field(min_length=1, max_length=64, description="dock id on the other side")
    direction: str | None = Field(None, pattern=DIRECTION_PATTERN,
                                  description="e.g. VN->CN; follows from the docks when not given")
    priority: int = Field(1, ge=1, le=10, strict=True, description="1 to 10, a whole number: true or \"5\" is "
                                                                   "refused, not read as 1 or 5")
    earliest_start: Instant | None = None
    latest_delivery: Instant | None = None


class Transition(BaseModel):
    at: float
    from_state: OrderState | None
    to_state: OrderState
    reason: str
    cause: dict[str, Any]


class OrderPublic(BaseModel):
    id: str
    state: OrderState
    direction: str
    pickup: str
    drop: str
    consignments: list[str]
    priority: int
    earliest_start: float | None
    latest_delivery: float | None
    vehicle_id: str | None
    created_at: float
    updated_at: float
    created_by: str
    reason: str | None = None
    timeline: list[Transition] = []

    @property
    def source(self) -> str:
        """The side it leaves from (``VN`` of ``VN->CN``)."""
        return self.direction.split("->")[0]

    @property
    def target(self) -> str:
        """The side it goes to (``CN`` of ``VN->CN``)."""
        return self.direction.split("->")[1]
