"""Synthetic transport orders and fleet states on a corridor, for tests and benchmarks (seeded, repeatable)."""

from __future__ import annotations

import random

import networkx as nx

from planner.assignment import TransportOrder, VehicleStatus
from planner.corridor import NodeKind
from planner.routing import VehicleProfile, fastest_route

__all__ = ["random_fleet", "random_orders", "sides_of"]


def _nodes(graph: nx.DiGraph, kind: NodeKind, side: str) -> list[str]:
    return sorted(n for n, d in graph.nodes(data=True) if d["kind"] == kind and d["jurisdiction"] == side)


def sides_of(graph: nx.DiGraph) -> tuple[str, str]:
    """The corridor's two jurisdictions (``corridor.yaml``'s, which the loader puts on the graph); for a
    graph built otherwise, the sides of its docks in the order it lists them.

    Raises
    ------
    ValueError : the docks are not on exactly two sides.
    """
    if "jurisdictions" in graph.graph:
        return graph.graph["jurisdictions"]
    sides = tuple(dict.fromkeys(d["jurisdiction"] for _, d in graph.nodes(data=True) if d["kind"] == NodeKind.DOCK))
    if len(sides) != 2:
        raise ValueError(f"expected docks on two sides, found them on {list(sides)}")
    return sides[0], sides[1]


def random_orders(graph: nx.DiGraph, count: int, rng: random.Random, start_s: float = 0.0, spread_s: float = 600.0,
                  crossing_share: float = 0.7, small_share: float = 0.5) -> list[TransportOrder]:
    """Orders ready over ``spread_s`` from ``start_s``: most from a dock on one side to a dock on the other,
    the rest between a dock and a parking slot of one side; due 5 to 30 minutes after the direct drive."""
    sides = sides_of(graph)
    out = []
    for i in range(count):
        side = rng.choice(sides)
        if rng.random() < crossing_share:
            pickup = rng.choice(_nodes(graph, NodeKind.DOCK, side))
            drop = rng.choice(_nodes(graph, NodeKind.DOCK, sides[1 - sides.index(side)]))
        else:
            pickup, drop = rng.choice(_nodes(graph, NodeKind.DOCK, side)), rng.choice(_nodes(graph, NodeKind.PARKING,
                                                                                                 side))
            if rng.random() < 0.5:
                pickup, drop = drop, pickup
        ready = start_s + rng.uniform(0, spread_s)
        due = ready + fastest_route(graph, pickup, drop).time_s + rng.uniform(300, 1800)
        out.append(TransportOrder(f"o{i}", pickup, drop, 1 if rng.random() < small_share else 2, ready, due,
                                  priority=rng.choice((1.0, 1.0, 1.0, 2.0))))
    return out


def random_fleet(graph: nx.DiGraph, count: int, rng: random.Random, start_s: float = 0.0, authorized_share: float = 0.8,
                 battery: tuple[float, float] = (0.25, 1.0)) -> list[VehicleStatus]:
    """Vehicles on parking slots, docks and chargers of both sides, free within a minute of ``start_s``."""
    spots = [n for side in sides_of(graph) for kind in (NodeKind.PARKING, NodeKind.DOCK, NodeKind.CHARGER)
             for n in _nodes(graph, kind, side)]
    nodes = rng.sample(spots, count)
    return [VehicleStatus(f"v{i}", node, start_s + rng.uniform(0, 60), rng.uniform(*battery),
                          VehicleProfile(cross_border=rng.random() < authorized_share)) for i, node in enumerate(nodes)]
