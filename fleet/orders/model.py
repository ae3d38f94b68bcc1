"""A transport order: one or two containers from a pickup dock on one side to a drop dock on the other.

The lifecycle is a table of allowed transitions; anything else is a programming error, refused loudly.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


class OrderCreate(BaseModel):
    """What a dispatcher asks for. Times are seconds since the epoch (UTC)."""

    model_config = ConfigDict(extra="forbid")
    consignments: list[Annotated[str, StringConstraints(pattern=CONSIGNMENT_PATTERN)]] = Field(
        min_length=1, max_length=MAX_CONTAINERS, description="consignment ids of the containers (one per container)")
    pickup: str = Field(min_length=1, max_length=64, description="dock id where the containers are loaded")
    drop: str = Field(min_length=1, max_length=64, description="dock id on the other side")
    direction: str | None = Field(None, pattern=DIRECTION_PATTERN,
                                  description="e.g. VN->CN; follows from the docks when not given")
    priority: int = Field(1, ge=1, le=10)
    earliest_start: float | None = Field(None, ge=0)
    latest_delivery: float | None = Field(None, ge=0)


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
