"""Timed plans as VDA 5050 orders: the base is what has been released of the plan, the rest is the horizon.

A vehicle's order carries on across plans: each new plan starts at the node that ends the base the vehicle
already has (sequence id ``seq0``), so the update that carries it starts there, as VDA 5050 requires.
"""

from __future__ import annotations

from collections.abc import Mapping

from agv_agent.protocol import Order, OrderEdge, OrderNode

from planner.corridor import Corridor
from planner.schedule import TimedPlan

#: Node actions for the planner's stop actions (VDA 5050 predefined action names).
NODE_ACTIONS: Mapping[str, tuple[str, ...]] = {"pickup": ("pick",), "drop": ("drop",), "charge": ("startCharging",)}


def vda_order(corridor: Corridor, order_id: str, update_id: int, plan: TimedPlan, seq0: int, first: int,
              released: int, actions: Mapping[int, tuple[str, ...]] | None = None) -> Order:
    """The order (update) for ``plan`` from step index ``first`` (0 for a new order; for an update, the step
    that ends the base the vehicle has): steps up to index ``released`` in the base, later steps and the
    plan's unreserved ``horizon`` after them. Step ``k`` has sequence id ``seq0 + 2k``. ``actions`` adds
    node actions by step index."""
    route = [s.node for s in plan.steps] + list(plan.horizon)
    nodes, edges = [], []
    for k in range(first, len(route)):
        node_id = route[k]
        node = corridor.nodes[node_id]
        nodes.append(OrderNode(node_id, seq0 + 2 * k, k <= released, node.x, node.y,
                               actions=(actions or {}).get(k, ())))
        if k > first:
            lane = corridor.lane_between(route[k - 1], node_id)
            edges.append(OrderEdge(lane.id, seq0 + 2 * k - 1, k <= released, route[k - 1], node_id, lane.max_speed))
    return Order(order_id, update_id, tuple(nodes), tuple(edges))
