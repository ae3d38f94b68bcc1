"""Low vehicles to free chargers: as many as possible, then the least total driving."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ortools.graph.python import min_cost_flow

from planner.assignment.model import EnergyModel, VehicleStatus
from planner.assignment.travel import TravelTimes

__all__ = ["send_to_chargers"]


def send_to_chargers(travel: TravelTimes, low: Sequence[VehicleStatus], chargers: Collection[str],
                     energy: EnergyModel) -> dict[str, str]:
    """``{vehicle_id: charger}``, each free charger to at most one vehicle.

    A bipartite matching solved as a max-flow of minimum cost (exact, a millisecond): maximising the number
    of vehicles sent comes first, so no penalty weight has to be tuned against travel time. The drive to the
    charger may use the reserve (that is what it is for), not more. A vehicle already on a charger stays.
    A low vehicle that reaches no free charger is left out and stays where it is.
    """
    plan = {v.id: v.node for v in low if v.node in travel.chargers}
    rest = [v for v in low if v.id not in plan]
    free = [c for c in chargers if c not in plan.values()]
    if not rest or not free:
        return plan
    flow = min_cost_flow.SimpleMinCostFlow()
    source, sink = len(rest) + len(free), len(rest) + len(free) + 1
    for i, v in enumerate(rest):
        flow.add_arc_with_capacity_and_unit_cost(source, i, 1, 0)
        reach = travel.from_node(v.node, v.profile)
        for j, c in enumerate(free):
            if c in reach and v.battery - energy.used(reach[c][1]) >= 0:
                flow.add_arc_with_capacity_and_unit_cost(i, len(rest) + j, 1, round(reach[c][0] * 1000))
    for j in range(len(free)):
        flow.add_arc_with_capacity_and_unit_cost(len(rest) + j, sink, 1, 0)
    flow.set_node_supply(source, len(rest))
    flow.set_node_supply(sink, -len(rest))
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    for arc in range(flow.num_arcs()):
        tail, head = flow.tail(arc), flow.head(arc)
        if flow.flow(arc) and tail < len(rest) and len(rest) <= head < source:
            plan[rest[tail].id] = free[head - len(rest)]
    return plan
