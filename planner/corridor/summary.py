"""A corridor's vital statistics and its fastest dock-to-dock route each way."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import networkx as nx

from planner.corridor.model import TERMINAL_KINDS, Corridor, NodeKind


@dataclass(frozen=True)
class RouteSummary:
    direction: str
    nodes: list[str]
    length_m: float
    time_s: float
    gates: list[str]
    crossing_lanes: list[str]


@dataclass(frozen=True)
class CorridorSummary:
    name: str
    node_counts: dict[str, int]
    lane_count: int
    lane_length_m: float
    crossing_lane_count: int
    lane_groups: list[str]
    zone_counts: dict[str, int]
    routes: list[RouteSummary]
    conflict_zones: list[str]  # places where lanes meet without a node: one lane at a time there


def summarize(corridor: Corridor) -> CorridorSummary:
    lanes = corridor.lanes.values()
    groups = sorted({lane.lane_group for lane in lanes if lane.lane_group})
    return CorridorSummary(
        name=corridor.name,
        node_counts=dict(Counter(str(n.kind) for n in corridor.nodes.values()).most_common()),
        lane_count=len(corridor.lanes),
        lane_length_m=sum(lane.length for lane in lanes),
        crossing_lane_count=len(corridor.crossing_lanes),
        lane_groups=groups,
        zone_counts=dict(Counter(z.jurisdiction for z in corridor.zones.values())),
        routes=[fastest_dock_route(corridor, a, b) for a, b in (corridor.jurisdictions, corridor.jurisdictions[::-1])],
        conflict_zones=sorted(corridor.conflict_zones),
    )


def fastest_dock_route(corridor: Corridor, from_side: str, to_side: str) -> RouteSummary:
    """The quickest route, at the speed limits, from any dock on one side to any dock on the other (any
    dock, parking place or charger on a side without docks).

    Raises
    ------
    ValueError : no such route (a side without any terminal, or the sides not connected).
    """
    graph = corridor.graph
    sources, targets = _terminals(corridor, from_side), _terminals(corridor, to_side)
    times, paths = nx.multi_source_dijkstra(graph, sources, weight="travel_time") if sources else ({}, {})
    reached = targets & times.keys()
    if not reached:
        raise ValueError(f"{corridor.name}: no route from a dock on the {from_side} side to one on the {to_side} side")
    best = min(reached, key=lambda n: times[n])
    path = paths[best]
    edges = [graph.edges[u, v] for u, v in itertools.pairwise(path)]
    return RouteSummary(
        direction=f"{from_side}->{to_side}",
        nodes=path,
        length_m=sum(e["length"] for e in edges),
        time_s=times[best],
        gates=[n for n in path if corridor.nodes[n].kind == NodeKind.GATE],
        crossing_lanes=[e["lane"] for e in edges if e["crossing"]],
    )


def _terminals(corridor: Corridor, side: str) -> set[str]:
    docks = {n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction=side)}
    return docks or {n.id for n in corridor.nodes_of(*TERMINAL_KINDS, jurisdiction=side)}
