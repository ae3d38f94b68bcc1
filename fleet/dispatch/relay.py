"""Relay operation (DESIGN.md §4): each side's vehicles stay in their jurisdiction and a container changes
hands at the handoff pad on the border line. A vehicle of the departure side picks the load up, waits at its
side's gate for clearance, then meets a vehicle of the arrival side at the pad (both timed by
:func:`planner.schedule.handoff.plan_relay`); each enters the pad only on a gate decision that allows it, the
transfer takes ``handoff_transfer_s`` once both are there, and the custody handoff is recorded then.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.corridor import Corridor, NodeKind


@dataclass(frozen=True)
class Relay:
    pad: str
    transfer_s: float

    @classmethod
    def of(cls, corridor: Corridor) -> Relay | None:
        """The corridor's relay setup, or None for a corridor run in ``through`` mode."""
        if corridor.parameters.get("handoff_mode", "through") != "relay":
            return None
        pads = sorted(n.id for n in corridor.nodes_of(NodeKind.HANDOFF))
        return cls(pads[0], float(corridor.parameters.get("handoff_transfer_s", 180.0)))
