"""Relay operation (DESIGN.md §4): each side's vehicles stay in their jurisdiction and a container changes
hands at the handoff pad on the border line. A vehicle of the departure side picks the load up, waits at its
side's gate for clearance, then meets a vehicle of the arrival side at the pad (both timed by
:func:`planner.schedule.handoff.plan_relay`); each enters the pad only on a gate decision that allows it, the
transfer takes ``handoff_transfer_s`` once both are there, and the custody handoff is recorded then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fleet.dispatch.steps import inbound_gates, is_free, ways_out
from fleet.dispatch.tracks import JobKind, Track
from planner.corridor import Corridor, NodeKind


@dataclass(frozen=True)
class Relay:
    pad: str
    transfer_s: float
    #: the pad and the nodes from which every way on leads over it (a side's outbound gates and the lane beyond)
    to_pad: frozenset[str] = field(default=frozenset())
    #: the customs gates on the way from the pad into each side (a deliverer never waits at one)
    inbound_gates: frozenset[str] = field(default=frozenset())

    @classmethod
    def of(cls, corridor: Corridor) -> Relay | None:
        """The corridor's relay setup, or None for a corridor run in ``through`` mode."""
        if corridor.parameters.get("handoff_mode", "through") != "relay":
            return None
        pads = sorted(n.id for n in corridor.nodes_of(NodeKind.HANDOFF))
        to_pad = ways_out(corridor, frozenset(pads))
        return cls(pads[0], float(corridor.parameters.get("handoff_transfer_s", 180.0)), to_pad,
                   inbound_gates(corridor, to_pad))


def orders_to_give_out(tracks: Iterable[Track], sides: tuple[str, str]) -> int:
    """How many more orders the assignment may give out now (issue #13, finding 10). An order in relay takes a
    vehicle of its departure side to carry the load to the pad and, once the load is cleared, a free vehicle of
    the arrival side to take it on; a dispatcher keeps one receiver in reserve for every load on its way. Given
    every free vehicle a pickup, both sides ended up all loaded deliverers, with nobody left to receive: no
    meeting could be paired and nothing crossed for the rest of the day. Each new order takes one of each
    side's spare vehicles (free, less those reserved for the loads bound for that side that have no partner
    yet), so at most the smaller side's spare."""
    tracks = list(tracks)
    spare = dict.fromkeys(sides, 0)
    for track in tracks:
        if is_free(track) and track.record.home in spare:
            spare[track.record.home] += 1
        job = track.job
        if job is not None and job.kind == JobKind.HAND_OVER and job.partner is None and job.order is not None:
            target = job.order.target
            spare[target] = spare.get(target, 0) - 1
    return max(0, min(spare[side] for side in sides))
