"""How many vehicles an hour the corridor can take from one side to the other under the following rules.

Every vehicle crossing passes the corridor's cut nodes (the nodes without which the two sides' terminals
are disconnected: a pre-gate, the bridge's lane nodes...). A node serves one vehicle per clearance of the
lane it leaves by, so a cut node whose fastest way on is a lane at speed v passes at most
q = 3600·v / (L + s0 + v·h) vehicles an hour, the lane-capacity formula. The corridor's capacity is the
smallest q over its cut nodes; the benchmark compares the plans' throughput with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from planner.corridor import TERMINAL_KINDS
from planner.schedule.lanes import TimedGraph

__all__ = ["Bottleneck", "crossing_bottleneck"]


@dataclass(frozen=True)
class Bottleneck:
    node: str
    lane: tuple[str, str]  # the fastest lane on from the node
    speed: float  # m/s
    per_hour: float  # q at that speed


def crossing_bottleneck(timed: TimedGraph, from_side: str, to_side: str) -> Bottleneck:
    graph = timed.graph
    sources = {n for n, d in graph.nodes(data=True) if d["kind"] in TERMINAL_KINDS and d["jurisdiction"] == from_side}
    targets = {n for n, d in graph.nodes(data=True) if d["kind"] in TERMINAL_KINDS and d["jurisdiction"] == to_side}
    _, paths = nx.multi_source_dijkstra(graph, sources, weight="travel_time")
    route = paths[min(targets & paths.keys(), key=lambda t: len(paths[t]))]
    cut = [n for n in route[1:-1] if not _connected(graph, sources, targets, without=n)]
    if not cut:
        raise ValueError(f"no single node every {from_side}->{to_side} trip passes: capacity is not one lane's")
    bottlenecks = []
    for node in cut:
        onward = [v for v in graph.successors(node) if nx.has_path(graph, v, next(iter(targets)))]
        lane = min(((node, v) for v in onward), key=lambda e: timed.lanes[e].clearance_s)
        speed = graph.edges[lane]["max_speed"]
        bottlenecks.append(Bottleneck(node, lane, speed, timed.rules.capacity_per_hour(speed)))
    return min(bottlenecks, key=lambda b: b.per_hour)


def _connected(graph: nx.DiGraph, sources: set[str], targets: set[str], without: str) -> bool:
    """Whether some source still reaches some target when ``without`` is taken out."""
    view = nx.subgraph_view(graph, filter_node=lambda n: n != without)
    reached = nx.multi_source_dijkstra_path_length(view, sources - {without})
    return not targets.isdisjoint(reached)
