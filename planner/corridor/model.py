"""The corridor as data: nodes, directed lanes and zones in a local metric frame, plus its graph.

Frame: x east, y north, metres, origin given in WGS84 (REP-103/105). Lanes are directed graph edges;
a ``bidirectional`` lane in the map becomes two directed lanes sharing one ``lane_group``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import networkx as nx
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:
    from planner.corridor.crossings import ConflictZone


class NodeKind(StrEnum):
    WAYPOINT = "waypoint"
    DOCK = "dock"
    PARKING = "parking"
    CHARGER = "charger"
    GATE = "gate"
    BORDER = "border"
    HANDOFF = "handoff"
    INSPECTION = "inspection"
    HOLDING = "holding"


#: Where an AGV may stand indefinitely without blocking a through route, so a plan may end there.
WAITING_KINDS = frozenset(
    {NodeKind.DOCK, NodeKind.PARKING, NodeKind.CHARGER, NodeKind.HOLDING, NodeKind.INSPECTION, NodeKind.GATE}
)
#: Where routes between the two sides start and end: the hinterland of each side.
TERMINAL_KINDS = frozenset({NodeKind.DOCK, NodeKind.PARKING, NodeKind.CHARGER})
#: Nodes that sit on the border line itself.
BORDER_LINE_KINDS = frozenset({NodeKind.BORDER, NodeKind.HANDOFF})
#: how near the border line a point is on it (:meth:`Corridor.on_border_line`): a vehicle standing at the relay
#: pad or a border node reports a position a little to either side
ON_THE_LINE_M = 2.0


#: Suffix of the id of the directed lane a ``bidirectional`` lane feature adds for its reverse direction.
REVERSE_SUFFIX = "~rev"


@dataclass(frozen=True)
class Origin:
    """WGS84 position of the local frame's (0, 0)."""

    lat: float
    lon: float


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    zone: str
    jurisdiction: str
    x: float
    y: float
    name: str = ""

    @property
    def point(self) -> Point:
        return Point(self.x, self.y)


@dataclass(frozen=True)
class Lane:
    """A directed lane from ``source`` to ``target``; ``geometry`` runs in the direction of travel."""

    id: str
    source: str
    target: str
    max_speed: float  # m/s
    geometry: LineString
    crossing: bool = False
    lane_group: str | None = None

    @property
    def feature_id(self) -> str:
        """The id of the map feature this lane comes from (a bidirectional feature gives two lanes)."""
        return self.id.removesuffix(REVERSE_SUFFIX)

    @cached_property
    def length(self) -> float:
        """Metres (worked out by shapely once: every order sent carries its lanes' lengths)."""
        return float(self.geometry.length)

    @property
    def travel_time(self) -> float:
        """Seconds to drive the lane at its speed limit."""
        return self.length / self.max_speed


@dataclass(frozen=True)
class Zone:
    id: str
    kind: str
    jurisdiction: str
    polygon: Polygon
    name: str = ""


#: how many points :meth:`Corridor.jurisdiction_at` remembers the answer for (beyond, it works each one out)
JURISDICTIONS_KNOWN_MAX = 100_000
_UNKNOWN = object()


@dataclass(frozen=True)
class Corridor:
    """A validated corridor map. Build it with :func:`planner.corridor.corridor_from_geojson`."""

    name: str
    origin: Origin
    jurisdictions: tuple[str, str]
    nodes: Mapping[str, Node]
    lanes: Mapping[str, Lane]
    zones: Mapping[str, Zone]
    border_line: BaseGeometry
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    graph: nx.DiGraph = field(default_factory=nx.DiGraph, compare=False, repr=False)
    #: places where lanes meet without a node (:mod:`planner.corridor.crossings`), by id
    conflict_zones: Mapping[str, ConflictZone] = field(default_factory=lambda: MappingProxyType({}))
    #: :meth:`nodes_of`'s answers (the map never changes; the dispatch loop asks at every tick)
    _of_kind: dict[tuple[tuple[NodeKind, ...], str | None], tuple[Node, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False)

    @property
    def directions(self) -> tuple[str, str]:
        """Both travel directions as ``"A->B"`` strings, e.g. ``("VN->CN", "CN->VN")``."""
        a, b = self.jurisdictions
        return f"{a}->{b}", f"{b}->{a}"

    def direction_from(self, side: str) -> str:
        """The travel direction out of ``side`` into the other, e.g. ``"VN->CN"`` from ``"VN"``."""
        return self.directions[self.jurisdictions.index(side)]

    def nodes_of(self, *kinds: NodeKind, jurisdiction: str | None = None) -> list[Node]:
        found = self._of_kind.get((kinds, jurisdiction))
        if found is None:
            found = self._of_kind[(kinds, jurisdiction)] = tuple(
                n for n in self.nodes.values()
                if n.kind in kinds and (jurisdiction is None or n.jurisdiction == jurisdiction))
        return list(found)

    def lane_between(self, source: str, target: str) -> Lane:
        return self._lane_by_ends[(source, target)]

    @cached_property
    def _lane_by_ends(self) -> dict[tuple[str, str], Lane]:
        """The graph's lane from each node to each next (read for every lane of every order sent)."""
        return {(source, target): self.lanes[lane] for source, target, lane in self.graph.edges(data="lane")}

    def heading_into(self, node_id: str) -> float:
        """Direction of travel (rad, ccw from east) on the first lane leading into ``node_id``."""
        lane = next(lane for lane in self.lanes.values() if lane.target == node_id)
        (x0, y0), (x1, y1) = lane.geometry.coords[-2], lane.geometry.coords[-1]
        return math.atan2(y1 - y0, x1 - x0)

    @property
    def crossing_lanes(self) -> list[Lane]:
        return [lane for lane in self.lanes.values() if lane.crossing]

    def on_border_line(self, x: float, y: float, line_m: float = ON_THE_LINE_M) -> bool:
        """The point (map metres) is within ``line_m`` of the border line."""
        minx, miny, maxx, maxy = self._line_box
        return minx - line_m <= x <= maxx + line_m and miny - line_m <= y <= maxy + line_m \
            and shapely.distance(self.border_line, Point(x, y)) <= line_m

    def jurisdiction_at(self, x: float, y: float) -> str | None:
        """The jurisdiction whose zone holds the point (map metres), None outside every zone. Asked for every
        position a vehicle reports: the zones' bounding boxes first, then the one or two candidates' polygons;
        a point asked before (a vehicle standing at a node reports its very coordinates) is answered from memory."""
        known = self._jurisdictions_known
        found = known.get((x, y), _UNKNOWN)
        if found is not _UNKNOWN:
            return found  # type: ignore[return-value]
        found = next((jurisdiction for (zx0, zy0, zx1, zy1), polygon, jurisdiction in self._zone_boxes
                      if zx0 <= x <= zx1 and zy0 <= y <= zy1 and shapely.intersects_xy(polygon, x, y)), None)
        if len(known) < JURISDICTIONS_KNOWN_MAX:
            known[(x, y)] = found
        return found

    def nearest_jurisdiction(self, x: float, y: float) -> tuple[str, float]:
        """The jurisdiction of the zone nearest the point (map metres) and how far outside it the point lies (0
        inside): where :meth:`jurisdiction_at` finds no zone, the side a point off the map is on. Next to the
        corridor, the two sides' zones are nearest on either side of the border line's continuation."""
        point = Point(x, y)
        distance, jurisdiction = min((shapely.distance(polygon, point), jurisdiction)
                                     for _, polygon, jurisdiction in self._zone_boxes)
        return jurisdiction, distance

    def to_the_line_m(self, x: float, y: float) -> float:
        """How far the point (map metres) is from the border line."""
        return float(shapely.distance(self.border_line, Point(x, y)))

    def way_to_the_line_m(self, way: Iterable[str]) -> float:
        """How near the border line a vehicle driving ``way`` (node ids in order) comes: the nearest of its nodes
        on the map and of the lanes between one and the next; infinite when no node of it is on the map."""
        nodes, lanes = self._nodes_to_the_line_m, self._lanes_to_the_line_m
        nearest, before = math.inf, None
        for node in way:
            nearest = min(nearest, nodes.get(node, math.inf), lanes.get((before, node), math.inf))
            before = node
        return nearest

    def by_the_line(self, x: float, y: float, within_m: float = 0.0) -> bool:
        """The point (map metres) is in a zone that touches the border line (a bridge deck), or within
        ``within_m`` of one: where a vehicle drives on towards the line."""
        return any(zx0 - within_m <= x <= zx1 + within_m and zy0 - within_m <= y <= zy1 + within_m
                   and shapely.distance(polygon, Point(x, y)) <= within_m
                   for (zx0, zy0, zx1, zy1), polygon in self._line_zones)

    @cached_property
    def _line_zones(self) -> list[tuple[tuple[float, float, float, float], Polygon]]:
        """The zones that touch the border line, with their bounds."""
        return [(zone.polygon.bounds, zone.polygon) for zone in self.zones.values()
                if shapely.distance(zone.polygon, self.border_line) <= ON_THE_LINE_M]

    @cached_property
    def _nodes_to_the_line_m(self) -> dict[str, float]:
        return {node.id: self.to_the_line_m(node.x, node.y) for node in self.nodes.values()}

    @cached_property
    def _lanes_to_the_line_m(self) -> dict[tuple[str | None, str], float]:
        return {(lane.source, lane.target): float(shapely.distance(self.border_line, lane.geometry))
                for lane in self.lanes.values()}

    @cached_property
    def _jurisdictions_known(self) -> dict[tuple[float, float], str | None]:
        return {}

    @cached_property
    def _line_box(self) -> tuple[float, float, float, float]:
        return self.border_line.bounds

    @cached_property
    def _zone_boxes(self) -> list[tuple[tuple[float, float, float, float], Polygon, str]]:
        return [(zone.polygon.bounds, zone.polygon, zone.jurisdiction) for zone in self.zones.values()]


def build_graph(nodes: Mapping[str, Node], lanes: Mapping[str, Lane],
                zones: Iterable[ConflictZone] = ()) -> nx.DiGraph:
    """The routing graph: node attributes from :class:`Node`, edge attributes from :class:`Lane`.

    Edge attributes: ``lane`` (id), ``length`` (m), ``max_speed`` (m/s), ``travel_time`` (s),
    ``crossing``, ``lane_group`` and ``conflict_zones`` (ids of the zones the lane passes through).
    """
    through: dict[str, list[str]] = {}
    for zone in zones:
        for lane_id in zone.passages:
            through.setdefault(lane_id, []).append(zone.id)
    graph = nx.DiGraph()
    for node in nodes.values():
        graph.add_node(node.id, kind=node.kind, jurisdiction=node.jurisdiction, zone=node.zone, x=node.x, y=node.y)
    for lane in lanes.values():
        graph.add_edge(
            lane.source,
            lane.target,
            lane=lane.id,
            length=lane.length,
            max_speed=lane.max_speed,
            travel_time=lane.travel_time,
            crossing=lane.crossing,
            lane_group=lane.lane_group,
            conflict_zones=tuple(through.get(lane.id, ())),
        )
    return graph
