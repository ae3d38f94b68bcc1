"""Timed plans as VDA 5050 orders: the base is what has been released of the plan, the rest is the horizon.

A vehicle's order carries on across plans: each new plan starts at the node that ends the base the vehicle
already has (sequence id ``seq0``), so the update that carries it starts there, as VDA 5050 requires.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from agv_agent.protocol import Action, ActionType, BlockingType, Order, OrderEdge, OrderNode

from planner.corridor import Corridor
from planner.schedule import TimedPlan


class OrderContent(NamedTuple):
    """What an order (update) tells its vehicle: all of it but its update id (node action ids do not carry the
    update id, see :func:`node_action_id`)."""

    order_id: str
    nodes: tuple[OrderNode, ...]
    edges: tuple[OrderEdge, ...]

    def repeats(self, earlier: OrderContent | None) -> bool:
        """This update tells a vehicle that took ``earlier`` nothing new: same order, and its nodes and edges
        (ids, sequence ids, releases, actions) are ``earlier``'s from this update's first node on. An update
        starts at the base end the vehicle has; one sent before it drove there started further back, so only
        the part from that node on is compared: what the vehicle still holds of ``earlier``."""
        if earlier is None or self.order_id != earlier.order_id or not self.nodes:
            return False
        start = self.nodes[0].sequence_id
        at = next((i for i, node in enumerate(earlier.nodes) if node.sequence_id == start), None)
        return at is not None and earlier.nodes[at:] == self.nodes and earlier.edges[at:] == self.edges


def node_action_id(order_id: str, sequence_id: int, action_type: ActionType | str) -> str:
    """A node action's id: the same in every update that carries the node, so the vehicle keeps one action
    state for it (and the fleet finds that state again)."""
    return f"{order_id}-{sequence_id}-{action_type}"


def node_action(order_id: str, sequence_id: int, action_type: ActionType | str) -> Action:
    """A node action (HARD blocking: the vehicle stands still while it runs)."""
    return Action(node_action_id(order_id, sequence_id, action_type), str(action_type), BlockingType.HARD)


def vda_order(corridor: Corridor, order_id: str, update_id: int, plan: TimedPlan, seq0: int, first: int,
              released: int, actions: Mapping[int, tuple[str, ...]] | None = None,
              first_deviation: float | None = None) -> Order:
    """The order (update) for ``plan`` from step index ``first`` (0 for a new order; for an update, the step
    that ends the base the vehicle has): steps up to index ``released`` in the base, later steps and the
    plan's unreserved ``horizon`` after them. Step ``k`` has sequence id ``seq0 + 2k``. ``actions`` adds
    node actions (VDA 5050 action types) by step index. ``first_deviation``: the first node's allowed deviation
    (m), for a vehicle that stands farther from it than the usual one (:func:`fleet.dispatch.steps.standing_past`)."""
    route = [s.node for s in plan.steps] + list(plan.horizon)
    nodes, edges = [], []
    for k in range(first, len(route)):
        node_id = route[k]
        node = corridor.nodes[node_id]
        sequence_id = seq0 + 2 * k
        nodes.append(_order_node(order_id, node_id, sequence_id, k <= released, node.x, node.y,
                                 actions.get(k, ()) if actions else ()))
        if k > first:
            lane = corridor.lane_between(route[k - 1], node_id)
            edges.append(_order_edge(lane.id, sequence_id - 1, k <= released, route[k - 1], node_id, lane.max_speed,
                                     lane.length))
    if first_deviation is not None and nodes:
        nodes[0] = dataclasses.replace(nodes[0], allowed_deviation_xy=first_deviation)
    return Order(order_id, update_id, tuple(nodes), tuple(edges))


# An order's nodes and edges are made of their arguments alone, and most updates carry on the nodes and edges of
# the one before (a full plan sends one to each of 200 vehicles, most of them parked with the same one-step plan):
# those are the same (immutable) objects again, not built anew (two thirds of the cost of building an order).


@lru_cache(maxsize=8192, typed=True)
def _order_node(order_id: str, node_id: str, sequence_id: int, released: bool, x: float, y: float,
                kinds: tuple[str, ...]) -> OrderNode:
    return OrderNode(node_id, sequence_id, released, x, y,
                     actions=tuple(node_action(order_id, sequence_id, kind) for kind in kinds))


@lru_cache(maxsize=8192, typed=True)
def _order_edge(edge_id: str, sequence_id: int, released: bool, start: str, end: str, max_speed: float,
                length: float) -> OrderEdge:
    return OrderEdge(edge_id, sequence_id, released, start, end, max_speed, length=length)
