"""Which way each gate serves, and when its barrier should be up, from the fleet's gate decisions.

The fleet publishes every gate decision on its ZeroMQ PUB socket (topic ``decision``: ``vehicle_id``,
``direction``, ``crossing_allowed``; see ``fleet/customs/gate.py``). A decision that allows vehicle V to
cross in direction D raises the barriers of every gate serving D for ``hold_open_s``; a later refusal for V
withdraws V's hold. A barrier is up while any vehicle holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx

from planner.corridor import TERMINAL_KINDS, Corridor, NodeKind
from sim.gazebo.world import BOOM_OPEN

CLOSED = 0.0  # boom angle, rad: level across the road


def gate_directions(corridor: Corridor) -> dict[str, list[str]]:
    """For each gate, the directions ("A->B") whose cross-border routes may pass it.

    A gate serves A->B if, with every other gate of its side removed, some terminal (dock, parking,
    charger) of A still reaches one of B: the map validator's own rule (gates cut every cross-border
    route) turned around, so it holds for any corridor.
    """
    served: dict[str, list[str]] = {}
    gates = corridor.nodes_of(NodeKind.GATE)
    for gate in gates:
        others = [g.id for g in gates if g.jurisdiction == gate.jurisdiction and g.id != gate.id]
        graph = nx.restricted_view(corridor.graph, others, [])
        served[gate.id] = [f"{a}->{b}" for a, b in (corridor.jurisdictions, corridor.jurisdictions[::-1])
                           if _reaches(graph, _terminals(corridor, a), _terminals(corridor, b))]
    return served


def _terminals(corridor: Corridor, side: str) -> set[str]:
    return {n.id for n in corridor.nodes_of(*TERMINAL_KINDS, jurisdiction=side)}


def _reaches(graph: nx.DiGraph, sources: set[str], targets: set[str]) -> bool:
    reached = set().union(*(nx.descendants(graph, s) for s in sources)) if sources else set()
    return bool(reached & targets)


@dataclass
class BarrierSchedule:
    """Barrier positions driven by gate decisions. Times are seconds on any monotonic clock."""

    directions: Mapping[str, list[str]]  # gate -> directions it serves
    hold_open_s: float
    _holds: dict[str, dict[str, float]] = field(default_factory=dict)  # gate -> vehicle -> open until

    def on_decision(self, decision: Mapping[str, object], now: float) -> None:
        vehicle, direction = str(decision.get("vehicle_id")), decision.get("direction")
        for gate, served in self.directions.items():
            if direction not in served:
                continue
            holds = self._holds.setdefault(gate, {})
            if decision.get("crossing_allowed") is True:
                holds[vehicle] = now + self.hold_open_s
            else:
                holds.pop(vehicle, None)

    def positions(self, now: float) -> dict[str, float]:
        """Every gate's commanded boom angle at ``now``."""
        for holds in self._holds.values():
            for vehicle in [v for v, until in holds.items() if until <= now]:
                del holds[vehicle]
        return {gate: BOOM_OPEN if self._holds.get(gate) else CLOSED for gate in self.directions}
