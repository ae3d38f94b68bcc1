"""Places where two lanes meet without a node: conflict zones.

Two lane geometries that intersect, or pass closer than a vehicle's width, away from a node they share
are one physical place two vehicles could reach at once without the graph knowing. Each such place is a
:class:`ConflictZone`; the planner lets one lane use it at a time (docs/planning.md §2).

Closeness that merely continues a shared node (two lanes leaving one node diverge slowly) is not a
zone: the node's own spacing keeps those vehicles apart. A lane passing closer than a vehicle's width to
a node that is not one of its ends is refused instead (a vehicle standing there would be brushed), see
:func:`lanes_over_nodes`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from planner.corridor.model import Lane, Node

__all__ = ["ConflictZone", "conflict_zones", "lanes_over_nodes"]

#: How close (m) to a shared node a stretch of closeness must come to count as that node's own.
NODE_TOLERANCE_M = 1.0


@dataclass(frozen=True)
class ConflictZone:
    """Where lane features ``lanes`` come within a vehicle's width of each other away from a node (two or
    more: crossings that overlap are one place).

    ``passages`` maps every directed lane through the zone (both directions of a bidirectional feature)
    to the stretch ``(start_m, end_m)`` of it, measured from the lane's start, that lies in the zone.
    """

    id: str
    lanes: tuple[str, ...]
    where: Point
    passages: Mapping[str, tuple[float, float]]


def conflict_zones(nodes: Mapping[str, Node], lanes: Mapping[str, Lane], width_m: float) -> list[ConflictZone]:
    """Every place where two lane features' geometries intersect or pass closer than ``width_m`` apart,
    other than at (or slowly diverging from) a node they share. Deterministic: sorted by lane ids."""
    drawn = sorted((lane for lane in lanes.values() if lane.id == lane.feature_id), key=lambda lane: lane.id)
    by_feature: dict[str, list[Lane]] = {}
    for lane in lanes.values():
        by_feature.setdefault(lane.feature_id, []).append(lane)
    tree = STRtree([lane.geometry for lane in drawn])
    pairs: list[ConflictZone] = []
    for i, a in enumerate(drawn):
        for j in sorted(int(k) for k in tree.query(a.geometry, predicate="dwithin", distance=width_m)):
            if j <= i:
                continue
            b = drawn[j]
            shared = [nodes[n].point for n in {a.source, a.target} & {b.source, b.target}]
            for k, (part_a, part_b) in enumerate(_close_stretches(a.geometry, b.geometry, width_m, shared)):
                passages: dict[str, tuple[float, float]] = {}
                for lane in by_feature[a.id]:
                    passages[lane.id] = _stretch(lane, part_a)
                for lane in by_feature[b.id]:
                    passages[lane.id] = _stretch(lane, part_b)
                where = part_a.union(part_b).centroid
                suffix = f"#{k + 1}" if k else ""
                pairs.append(ConflictZone(f"{a.id} x {b.id}{suffix}", (a.id, b.id), where, passages))
    return _merge_overlapping(pairs)


def _merge_overlapping(pairs: list[ConflictZone]) -> list[ConflictZone]:
    """One zone per place: pair zones whose stretches of a common lane overlap are merged (e.g. a two-way
    road drawn as two lanes, crossed by another: four pairs, one place)."""
    places = nx.Graph()
    places.add_nodes_from(range(len(pairs)))
    for (i, p), (j, q) in itertools.combinations(enumerate(pairs), 2):
        if any(_overlap(p.passages[lane], q.passages[lane]) for lane in p.passages.keys() & q.passages.keys()):
            places.add_edge(i, j)
    zones = []
    for component in sorted(nx.connected_components(places), key=min):
        group = [pairs[i] for i in sorted(component)]
        if len(group) == 1:
            zones.append(group[0])
            continue
        passages: dict[str, tuple[float, float]] = {}
        for zone in group:
            for lane, (start, end) in zone.passages.items():
                old = passages.get(lane, (start, end))
                passages[lane] = (min(old[0], start), max(old[1], end))
        lanes = tuple(sorted({lane for zone in group for lane in zone.lanes}))
        where = _merge([zone.where for zone in group]).centroid
        zones.append(ConflictZone(" x ".join(lanes), lanes, where, passages))
    return zones


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def lanes_over_nodes(nodes: Mapping[str, Node], lanes: Mapping[str, Lane],
                     width_m: float) -> list[tuple[str, str, float]]:
    """(lane feature, node, distance) for each lane passing closer than ``width_m`` to a node that is
    not one of its ends, and not within ``width_m`` of one of its ends either (a node beside a lane's
    end is that junction's business)."""
    ids = list(nodes)
    points = [nodes[n].point for n in ids]
    tree = STRtree(points)
    found = []
    for lane in (lane for lane in lanes.values() if lane.id == lane.feature_id):
        ends = (nodes[lane.source].point, nodes[lane.target].point)
        for k in sorted(int(k) for k in tree.query(lane.geometry, predicate="dwithin", distance=width_m)):
            node, point = ids[k], points[k]
            if node in (lane.source, lane.target) or any(point.distance(end) < width_m for end in ends):
                continue
            found.append((lane.id, node, lane.geometry.distance(point)))
    return found


def _close_stretches(a: LineString, b: LineString, width_m: float,
                     shared: list[Point]) -> list[tuple[BaseGeometry, BaseGeometry]]:
    """Pairs (stretch of a, stretch of b) closer than ``width_m`` to each other, one pair per place;
    stretches that reach a shared node are left out."""
    near_a = _parts(a.intersection(b.buffer(width_m)), shared)
    near_b = _parts(b.intersection(a.buffer(width_m)), shared)
    if not near_a or not near_b:
        return []
    places = nx.Graph()
    places.add_nodes_from(("a", i) for i in range(len(near_a)))
    places.add_nodes_from(("b", j) for j in range(len(near_b)))
    for (i, pa), (j, pb) in itertools.product(enumerate(near_a), enumerate(near_b)):
        if pa.distance(pb) <= width_m:
            places.add_edge(("a", i), ("b", j))
    out = []
    for component in sorted(nx.connected_components(places), key=min):
        on_a = [near_a[i] for side, i in component if side == "a"]
        on_b = [near_b[j] for side, j in component if side == "b"]
        if on_a and on_b:
            out.append((_merge(on_a), _merge(on_b)))
    return out


def _parts(geometry: BaseGeometry, shared: list[Point]) -> list[BaseGeometry]:
    parts = [g for g in getattr(geometry, "geoms", [geometry]) if not g.is_empty]
    return [p for p in parts if all(p.distance(node) > NODE_TOLERANCE_M for node in shared)]


def _merge(parts: list[BaseGeometry]) -> BaseGeometry:
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.union(part)
    return merged


def _stretch(lane: Lane, part: BaseGeometry) -> tuple[float, float]:
    """The stretch of ``lane``, from its start, that covers ``part``."""
    along = [lane.geometry.project(Point(c)) for g in getattr(part, "geoms", [part]) for c in g.coords]
    return min(along), max(along)
