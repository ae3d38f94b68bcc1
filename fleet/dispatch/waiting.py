"""Why an order waits for a vehicle: what a dispatcher asks first of an order still ``created``.

The assignment works most of it out every round and keeps none of it; an order that did not move said nothing
(found by hand: an order stood ``created`` for minutes beside four idle vehicles, none of them authorized to
cross by both customs authorities). :func:`why_waiting` names the first thing that holds the order back, from
what the dispatch loop knows at one moment (:class:`FleetNow`), in the order a dispatcher would look.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from fleet.orders import OrderPublic
from fleet.orders.model import moment_in_words
from planner.assignment import Reason


class WaitKind(StrEnum):
    """What holds an order back (each with a sentence in :attr:`WaitingOrder.because`)."""

    NOT_READY = "not_ready"  # its earliest start has not come: no vehicle is sent for it before then
    CUSTOMS = "customs"  # a consignment under inspection, held or revoked: it waits in the yard, not on an AGV
    NO_VEHICLE = "no_vehicle"  # no vehicle in service is reporting
    NO_AUTHORIZED_VEHICLE = "no_authorized_vehicle"  # none that may cross is authorized by both authorities
    NO_FREE_VEHICLE = "no_free_vehicle"  # every vehicle has work
    GATE_LANES_FULL = "gate_lanes_full"  # its side has as many loads out as its gate lanes take
    NO_RECEIVER = "no_receiver"  # relay: no vehicle of the far side is spare to take the load on at the pad
    NO_ROUTE = "no_route"  # the last assignment round: no vehicle free may drive its route
    BATTERY = "battery"  # the last round: no vehicle free has the charge for it
    NOT_CHOSEN = "not_chosen"  # the last round: others were more urgent or nearer
    NEXT_ROUND = "next_round"  # nothing holds it back: the next assignment round takes it up


_ROUND_KINDS = {Reason.NO_ROUTE: WaitKind.NO_ROUTE, Reason.BATTERY: WaitKind.BATTERY,
                Reason.NOT_CHOSEN: WaitKind.NOT_CHOSEN}


class WaitingOrder(BaseModel):
    order_id: str
    direction: str
    pickup: str
    priority: int
    waiting_since: float  # when it became ``created`` (again: an order its vehicle gave back)
    kind: WaitKind
    because: str


@dataclass(frozen=True)
class FleetNow:
    """What decides why orders wait, read once under the dispatch loop's lock."""

    available: int  # vehicles in service, reporting, able to go on
    crossers: int | None  # of those, the ones that may cross now (both authorities authorize them); None: relay
    free: int  # vehicles with no work at the end of their plans
    #: through operation: per departure side, (loads it may still give out, its outbound gate lanes)
    gate_room: Mapping[str, tuple[int, int]]
    receivers: int | None  # relay: orders the spare vehicles of both sides can still take on; None: through
    left_out: Mapping[str, Reason]  # the last assignment round's orders it did not give out, with why
    now: float  # seconds since the epoch, as the orders' times


def why_waiting(order: OrderPublic, kept: list[str], fleet: FleetNow) -> tuple[WaitKind, str]:
    """The first thing that holds ``order`` back; ``kept``: its consignments customs keeps, as sentences."""
    if order.earliest_start is not None and order.earliest_start > fleet.now:
        return WaitKind.NOT_READY, (f"its earliest start is {moment_in_words(order.earliest_start)}: a vehicle is "
                                    "sent for it then")
    if kept:
        return WaitKind.CUSTOMS, "customs keeps " + "; ".join(kept) + ": assigned once it lets the load go on"
    if fleet.available == 0:
        return WaitKind.NO_VEHICLE, "no vehicle in service is reporting"
    if fleet.crossers == 0:
        return WaitKind.NO_AUTHORIZED_VEHICLE, (f"none of the {fleet.available} vehicles in service is authorized "
                                                "to cross by both customs authorities")
    if fleet.free == 0:
        return WaitKind.NO_FREE_VEHICLE, f"all {fleet.available} vehicles in service have work: the next one free"
    room, lanes = fleet.gate_room.get(order.source, (1, 0))
    if room <= 0:
        return WaitKind.GATE_LANES_FULL, (f"the {order.source} side's {lanes} outbound gate lane(s) have as many "
                                          "loads on their way as they take: the next that passes its gate")
    if fleet.receivers == 0:
        return WaitKind.NO_RECEIVER, "no vehicle of either side is spare to take a load on at the handoff pad"
    reason = fleet.left_out.get(order.id)
    if reason is not None:
        return _ROUND_KINDS[reason], f"last assignment round: {reason}"
    return WaitKind.NEXT_ROUND, "nothing holds it back: the next assignment round takes it up"


def waiting_order(order: OrderPublic, kept: list[str], fleet: FleetNow) -> WaitingOrder:
    kind, because = why_waiting(order, kept, fleet)
    return WaitingOrder(order_id=order.id, direction=order.direction, pickup=order.pickup, priority=order.priority,
                        waiting_since=order.updated_at, kind=kind, because=because)
