"""Orders for the customs simulators' consignments, as a dispatcher would book them: each one between a dock on
its origin side and a dock on the other side, booked so that it reaches the gate about when both customs are
expected to be done (never before its declaration). Consignments that one side finally refuses (revoked, never
released again) get no order: they would wait at the gate for good."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from planner.corridor import Corridor, NodeKind
from sim.live import AUTHORITIES, CustomsPlan
from sim.service_process import FleetService

#: how long before both clearances are expected the order is booked (simulated seconds): about the drive from a
#: dock through loading to the gate, so that some vehicles wait a little at the gate and most do not
BOOKING_LEAD_S = 600.0


@dataclass(frozen=True, order=True)
class PlannedOrder:
    at_s: float  # simulated seconds after the simulators' start
    consignments: tuple[str, ...]
    direction: str
    pickup: str
    drop: str


def planned_orders(plan: CustomsPlan, corridor: Corridor, lead_s: float = BOOKING_LEAD_S,
                   first_pickups: Sequence[str] = ()) -> list[PlannedOrder]:
    """Every order of the feed, in booking order. The simulators' schedules are rebuilt from the same seed (both
    derive them deterministically), so the feed knows when each consignment is declared and cleared. The first
    orders from each side are picked up at ``first_pickups`` of that side, in turn (the docks where AGVs stand
    at the start: the yard's lanes are one-way, and the next dock along can be a whole loop away)."""
    from sim.customs_authority import build_schedule, consignment_ids

    profile = plan.profile()
    declared: dict[str, float] = {}
    cleared: dict[str, float] = {}
    final: dict[str, set[str]] = {}
    for authority, side in AUTHORITIES.items():
        last: dict[str, str] = {}
        for item in build_schedule(authority, side, profile):
            consignment, kind = item.fields.get("consignment_id"), item.fields["type"]
            if not consignment:
                continue
            declared[consignment] = min(declared.get(consignment, item.at), item.at)
            if kind == "released":
                cleared[consignment] = max(cleared.get(consignment, 0.0), item.at)
            if kind in ("released", "revoked"):
                last[consignment] = kind
        for consignment, kind in last.items():
            final.setdefault(consignment, set()).add(kind)
    rng = random.Random(plan.seed)
    docks = {side: sorted(n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction=side))
             for side in corridor.jurisdictions}
    booked = sorted((max(declared[c], cleared[c] - lead_s), c, d) for c, d in consignment_ids(profile)
                    if final.get(c) == {"released"})
    waiting = {side: [d for d in first_pickups if d in docks[side]] for side in docks}
    orders = []
    for at_s, consignment, direction in booked:
        origin, destination = direction.split("->")
        pickup = waiting[origin].pop(0) if waiting[origin] else rng.choice(docks[origin])
        orders.append(PlannedOrder(at_s, (consignment,), direction, pickup, rng.choice(docks[destination])))
    return orders


class OrderFeed:
    """Posts each planned order when it is due (``scale`` simulated seconds per wall second from ``t0``) with
    the dispatcher's token; an order refused is counted, not retried. ``posted``: (the fleet's order id, the
    planned order), in posting order."""

    def __init__(self, service: FleetService, orders: list[PlannedOrder], scale: float, t0: float) -> None:
        self.service, self.pending, self.scale, self.t0 = service, sorted(orders, reverse=True), scale, t0
        self.posted: list[tuple[str, PlannedOrder]] = []
        self.refused: list[tuple[PlannedOrder, str]] = []  # with the service's answer

    def post_due(self, now: float) -> list[tuple[str, PlannedOrder]]:
        """Post every order due by ``now`` (wall clock); returns those the service took."""
        taken = []
        while self.pending and self.t0 + self.pending[-1].at_s / self.scale <= now:
            order = self.pending.pop()
            reply = httpx.post(f"{self.service.base}/orders", timeout=10,
                               json={"consignments": list(order.consignments), "pickup": order.pickup,
                                     "drop": order.drop},
                               headers={**self.service.headers("dispatcher"),
                                        "Idempotency-Key": "+".join(order.consignments)})
            if reply.status_code in (200, 201):
                taken.append((reply.json()["id"], order))
            else:
                self.refused.append((order, reply.text[:200]))
        self.posted += taken
        return taken
