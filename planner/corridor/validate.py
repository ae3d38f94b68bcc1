"""Whole-map checks: graph integrity, geometry against graph, jurisdictions, the border, and that
every route between the two sides passes a gate on each side and the crossing lanes.

Each check returns :class:`MapProblem` records naming the offending feature; the parser raises them
together as one :class:`MapError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from planner.corridor.crossings import lanes_over_nodes
from planner.corridor.errors import MapProblem
from planner.corridor.model import (
    BORDER_LINE_KINDS,
    REVERSE_SUFFIX,
    TERMINAL_KINDS,
    Lane,
    Node,
    NodeKind,
    Zone,
    build_graph,
)

#: How far (m) a lane's end may be from its node, or a node from its zone or the border line.
TOLERANCE_M = 1.0
DEFAULT_WIDTH_M = 3.0
#: A lane this close to the border line reaches it: a node drawn on the line lies some micrometres off it once
#: projected, and a lane ending there was said not to reach it.
ON_THE_LINE_M = 1e-3
#: More shared area than this between zones of the two sides is an overlap, not the rounding of a shared edge.
OVERLAP_M2 = 1.0


def border_line_of(zones: Iterable[Zone], jurisdictions: tuple[str, str]) -> BaseGeometry:
    """Where the two jurisdictions' zones meet: the shared boundary of their unions."""
    a, b = jurisdictions
    zones = list(zones)
    side_a = unary_union([z.polygon for z in zones if z.jurisdiction == a])
    side_b = unary_union([z.polygon for z in zones if z.jurisdiction == b])
    return side_a.boundary.intersection(side_b.boundary)


def validate_corridor(
    nodes: Mapping[str, Node],
    lanes: Mapping[str, Lane],
    zones: Mapping[str, Zone],
    border: BaseGeometry,
    jurisdictions: tuple[str, str],
    parameters: Mapping[str, Any],
) -> list[MapProblem]:
    drawn = {lane_id: lane for lane_id, lane in lanes.items() if lane.id == lane.feature_id}  # one per feature
    problems = _lane_endpoints(nodes, drawn) + _duplicate_lanes(lanes)
    if problems:  # the remaining checks need a well-formed graph
        return problems
    problems += _geometry_joins_nodes(nodes, drawn)
    problems += _lanes_over_nodes(nodes, drawn, float(parameters.get("agv_width_m", DEFAULT_WIDTH_M)))
    problems += _sides_overlapping(zones, jurisdictions)
    problems += _nodes_in_zones(nodes, zones, border)
    problems += _border(nodes, drawn, border, jurisdictions)
    problems += _parameters(nodes, parameters)
    if problems:
        return problems
    graph = build_graph(nodes, lanes)
    problems += _connectivity(graph, nodes)
    if problems:
        return problems
    return _cross_border_routes(graph, nodes, jurisdictions)


def _lane_endpoints(nodes: Mapping[str, Node], lanes: Mapping[str, Lane]) -> list[MapProblem]:
    problems = []
    for lane in lanes.values():
        for end, node_id in (("from", lane.source), ("to", lane.target)):
            if node_id not in nodes:
                problems.append(MapProblem(lane.id, f"dangling lane: its '{end}' node {node_id!r} is not in the map"))
        if lane.source == lane.target:
            problems.append(MapProblem(lane.id, f"lane loops from {lane.source!r} to itself"))
    return problems


def _duplicate_lanes(lanes: Mapping[str, Lane]) -> list[MapProblem]:
    """Two lanes with the same ends (including a bidirectional lane's reverse) would be one graph edge."""
    problems = []
    seen: dict[tuple[str, str], str] = {}
    for lane in lanes.values():
        key = (lane.source, lane.target)
        if key in seen:
            problems.append(MapProblem(lane.feature_id, f"a second lane from {key[0]!r} to {key[1]!r} "
                                                        f"(first: {seen[key]!r})"))
        seen.setdefault(key, lane.feature_id)
    return problems


def _geometry_joins_nodes(nodes: Mapping[str, Node], lanes: Mapping[str, Lane]) -> list[MapProblem]:
    problems = []
    for lane in lanes.values():
        for end, node_id, coord in (("start", lane.source, lane.geometry.coords[0]),
                                    ("end", lane.target, lane.geometry.coords[-1])):
            gap = nodes[node_id].point.distance(Point(coord))
            if gap > TOLERANCE_M:
                problems.append(MapProblem(
                    lane.id, f"geometry does not join its nodes: its {end} is {gap:.1f} m from node {node_id!r}"))
    return problems


def _sides_overlapping(zones: Mapping[str, Zone], jurisdictions: tuple[str, str]) -> list[MapProblem]:
    """The two sides' zones may meet (on the border line) but not overlap: a position there would be on both sides,
    and the border watch would judge it by whichever zone it finds first."""
    a, b = jurisdictions
    problems = []
    for first, second in itertools.product([z for z in zones.values() if z.jurisdiction == a],
                                           [z for z in zones.values() if z.jurisdiction == b]):
        shared = first.polygon.intersection(second.polygon).area
        if shared > OVERLAP_M2:
            problems.append(MapProblem(second.id, f"overlaps zone {first.id!r} ({a}) over {shared:,.0f} m²: the two "
                                                  "sides' zones may meet on the border line, not overlap"))
    return problems


def _nodes_in_zones(nodes: Mapping[str, Node], zones: Mapping[str, Zone], border: BaseGeometry) -> list[MapProblem]:
    problems = []
    for node in nodes.values():
        zone = zones.get(node.zone)
        if zone is None:
            problems.append(MapProblem(node.id, f"zone {node.zone!r} is not in the map"))
            continue
        gap = zone.polygon.distance(node.point)
        if gap > TOLERANCE_M:
            problems.append(MapProblem(node.id, f"lies {gap:.1f} m outside its zone {zone.id!r}"))
        on_line = not border.is_empty and border.distance(node.point) <= TOLERANCE_M
        if node.kind in BORDER_LINE_KINDS:
            if not on_line:
                problems.append(MapProblem(node.id, f"a {node.kind} node must lie on the border line"))
        elif on_line:
            problems.append(MapProblem(node.id, f"a {node.kind} node on the border line: only border and handoff "
                                                "nodes may lie on it"))
        elif zone.jurisdiction != node.jurisdiction:
            problems.append(MapProblem(
                node.id, f"jurisdiction {node.jurisdiction} differs from its zone {zone.id!r} ({zone.jurisdiction})"))
    return problems


def _border(nodes: Mapping[str, Node], lanes: Mapping[str, Lane], border: BaseGeometry,
            jurisdictions: tuple[str, str]) -> list[MapProblem]:
    a, b = jurisdictions
    if border.is_empty:
        return [MapProblem(None, f"no border line: the {a} zones and the {b} zones never touch")]
    problems = []
    for lane in lanes.values():
        touches = lane.geometry.distance(border) <= ON_THE_LINE_M or any(
            nodes[n].kind in BORDER_LINE_KINDS for n in (lane.source, lane.target))
        if touches and not lane.crossing:
            problems.append(MapProblem(lane.id, "reaches the border line but is not marked crossing: true"))
        elif lane.crossing and not touches:
            problems.append(MapProblem(lane.id, "is marked crossing: true but does not reach the border line"))
    for side in jurisdictions:
        if not any(n.kind == NodeKind.GATE and n.jurisdiction == side for n in nodes.values()):
            problems.append(MapProblem(None, f"no gate on the {side} side"))
        if not any(n.kind == NodeKind.DOCK and n.jurisdiction == side for n in nodes.values()):
            problems.append(MapProblem(None, f"no dock on the {side} side: transport orders load and unload at "
                                             "docks"))
    return problems


def _lanes_over_nodes(nodes: Mapping[str, Node], lanes: Mapping[str, Lane], width_m: float) -> list[MapProblem]:
    """A lane must not brush past a node it does not join: a vehicle standing there would be in the way."""
    return [MapProblem(lane_id, f"passes {gap:.1f} m from node {node_id!r} without joining it (closer than the "
                                f"{width_m:g} m vehicle width): split the lane at the node, or draw it clear")
            for lane_id, node_id, gap in lanes_over_nodes(nodes, lanes, width_m)]


def _parameters(nodes: Mapping[str, Node], parameters: Mapping[str, Any]) -> list[MapProblem]:
    relay = parameters.get("handoff_mode", "through") == "relay"
    if relay and not any(n.kind == NodeKind.HANDOFF for n in nodes.values()):
        return [MapProblem("corridor.yaml", "handoff_mode relay needs a handoff node on the border line")]
    return []


def _connectivity(graph: nx.DiGraph, nodes: Mapping[str, Node]) -> list[MapProblem]:
    """Every node must be reachable from every other: an AGV must be able to get anywhere and back."""
    components = sorted(nx.strongly_connected_components(graph), key=len, reverse=True)
    if len(components) <= 1:
        return []
    main = next(iter(components[0]))
    reachable = nx.descendants(graph, main) | {main}
    problems = []
    for component in components[1:]:
        for node_id in sorted(component):
            kind = nodes[node_id].kind
            if node_id not in reachable:
                problems.append(MapProblem(node_id, f"unreachable {kind}: no lane leads to it from the corridor"))
            else:
                problems.append(MapProblem(node_id, f"dead-end {kind}: no lane leads from it back to the corridor"))
    return problems


def _cross_border_routes(graph: nx.DiGraph, nodes: Mapping[str, Node],
                         jurisdictions: tuple[str, str]) -> list[MapProblem]:
    """No route from one side's hinterland to the other's may avoid a gate on either side or the crossing."""
    problems = []
    for start_side, end_side in (jurisdictions, jurisdictions[::-1]):
        direction = f"{start_side}->{end_side}"
        starts = [n.id for n in nodes.values() if n.kind in TERMINAL_KINDS and n.jurisdiction == start_side]
        ends = {n.id for n in nodes.values() if n.kind in TERMINAL_KINDS and n.jurisdiction == end_side}
        barriers = {
            f"every {start_side} gate": _without_nodes(graph, nodes, NodeKind.GATE, start_side),
            f"every {end_side} gate": _without_nodes(graph, nodes, NodeKind.GATE, end_side),
            "the crossing lanes": nx.subgraph_view(graph, filter_edge=lambda u, v: not graph.edges[u, v]["crossing"]),
        }
        for avoided, view in barriers.items():
            path = _any_path(view, starts, ends)
            if path:
                twin = _gate_twin(graph, nodes, path)
                if twin and avoided.endswith("gate"):
                    node, gate = twin
                    problems.append(MapProblem(node, f"a {nodes[node].kind} with the same lanes in and out as gate "
                                                     f"{gate!r} lets route {direction} avoid {avoided}: is it a gate "
                                                     f"drawn with kind {nodes[node].kind}? ({' -> '.join(path)})"))
                    continue
                culprit = _culprit_lane(graph, view, path, starts, ends)
                problems.append(MapProblem(culprit, f"route {direction} avoids {avoided}: {' -> '.join(path)}"))
    return problems


def _gate_twin(graph: nx.DiGraph, nodes: Mapping[str, Node], path: list[str]) -> tuple[str, str] | None:
    """(node on the path, gate) when a node of the bypass sits in parallel with a gate: the same nodes lead
    into both and the same nodes lead on from both. That is a gate drawn with the wrong kind."""
    for node in path:
        if nodes[node].kind == NodeKind.GATE:
            continue
        ins, outs = set(graph.predecessors(node)), set(graph.successors(node))
        for gate in sorted(n for n in nodes if nodes[n].kind == NodeKind.GATE):
            if set(graph.predecessors(gate)) == ins and set(graph.successors(gate)) == outs:
                return node, gate
    return None


def _culprit_lane(graph: nx.DiGraph, barrier_view: nx.DiGraph, path: list[str], starts: list[str],
                  ends: set[str]) -> str:
    """The lane to blame for a bypass: without it the bypass is gone but proper routes remain.

    Falls back to the path's first lane when no single lane is to blame (several bypasses)."""
    lanes = [graph.edges[u, v]["lane"] for u, v in itertools.pairwise(path)]
    for (u, v), lane in zip(itertools.pairwise(path), lanes):
        def keep(a: str, b: str, u: str = u, v: str = v) -> bool:
            return (a, b) != (u, v)

        if _any_path(nx.subgraph_view(barrier_view, filter_edge=keep), starts, ends) is None and \
                _any_path(nx.subgraph_view(graph, filter_edge=keep), starts, ends) is not None:
            return lane.removesuffix(REVERSE_SUFFIX)
    return lanes[0].removesuffix(REVERSE_SUFFIX)


def _without_nodes(graph: nx.DiGraph, nodes: Mapping[str, Node], kind: NodeKind, side: str) -> nx.DiGraph:
    return nx.subgraph_view(graph, filter_node=lambda n: not (nodes[n].kind == kind and nodes[n].jurisdiction == side))


def _any_path(graph: nx.DiGraph, starts: list[str], ends: set[str]) -> list[str] | None:
    """A shortest path (by hops) from any start to any end, or None."""
    sources = {s for s in starts if s in graph}
    if not sources:
        return None
    paths = nx.multi_source_dijkstra_path(graph, sources, weight=lambda u, v, d: 1)
    reached = sorted(ends & paths.keys(), key=lambda n: (len(paths[n]), n))
    return paths[reached[0]] if reached else None
