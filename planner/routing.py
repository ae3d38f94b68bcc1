"""Fastest routes on the corridor graph: lane direction, speed limits, per-vehicle restrictions.

Algorithms are plain functions over the corridor's ``nx.DiGraph`` (edge attributes ``length``,
``max_speed``, ``travel_time`` at the limit, ``crossing``, ``lane_group``; node attributes ``kind``,
``jurisdiction``). Every AGV drives a lane at its limit, so vehicles on one lane never overtake.

>>> route = fastest_route(corridor.graph, "vn_parking_1", "cn_dock_1")  # doctest: +SKIP
>>> route.time_s  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx
import numpy as np

from planner.corridor import NodeKind
from planner.exceptions import NoRoute, UnknownNode

__all__ = ["OnePlaceTables", "Route", "VehicleProfile", "fastest_route", "lanes_reversed", "restricted_view",
           "time_back_to", "time_to_goals"]


@dataclass(frozen=True)
class VehicleProfile:
    """What restricts where a vehicle may drive.

    ``cross_border``: authorized by both customs authorities to cross; without it the vehicle never uses a
    ``crossing`` lane. ``home``: for relay operation, the jurisdiction the vehicle stays in; it may then
    also reach the ``handoff`` pad on the border line from its own side, and nothing of the other side.
    ``avoid``: nodes it may not enter (relay: a vehicle with no meeting at the pad keeps off its side's lanes to
    the pad and the pad itself, issue #13 finding 9).
    ``max_speed``: the vehicle's own top speed (m/s, its factsheet's), where it is below a lane's limit; timed
    plans drive each lane at the lower of the two (None: at the lane's limit).
    """

    cross_border: bool = True
    home: str | None = None
    max_speed: float | None = None
    avoid: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.cross_border and self.home is not None:
            raise ValueError("a vehicle confined to its home jurisdiction cannot also be authorized to cross")
        if self.max_speed is not None and not self.max_speed > 0:
            raise ValueError(f"max_speed must be positive, not {self.max_speed}")


@dataclass(frozen=True)
class Route:
    nodes: tuple[str, ...]
    time_s: float
    length_m: float


def restricted_view(graph: nx.DiGraph, profile: VehicleProfile) -> nx.DiGraph:
    """The part of the graph this vehicle may drive on (a read-only view, no copy)."""
    if profile.avoid:
        graph = nx.subgraph_view(graph, filter_node=lambda node: node not in profile.avoid)
    if profile.cross_border:
        return graph
    if profile.home is None:
        return nx.subgraph_view(graph, filter_edge=lambda u, v: not graph.edges[u, v]["crossing"])
    nodes = graph.nodes

    def allowed(node: str) -> bool:
        kind = nodes[node]["kind"]
        return kind == NodeKind.HANDOFF or (nodes[node]["jurisdiction"] == profile.home and kind != NodeKind.BORDER)

    return nx.subgraph_view(graph, filter_node=allowed)


def fastest_route(graph: nx.DiGraph, source: str, target: str, profile: VehicleProfile = VehicleProfile()) -> Route:
    """The quickest route at the speed limits, respecting the vehicle's restrictions.

    Raises
    ------
    UnknownNode : source or target is not a node.
    NoRoute : no route for this vehicle (e.g. it would have to cross the border but may not).
    """
    for node in (source, target):
        if node not in graph:
            raise UnknownNode(node)
    view = restricted_view(graph, profile)
    try:
        time_s, nodes = nx.single_source_dijkstra(view, source, target, weight="travel_time")
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        raise NoRoute(f"no route from {source} to {target}{_restriction(profile)}") from None
    length = sum(graph.edges[u, v]["length"] for u, v in itertools.pairwise(nodes))
    return Route(tuple(nodes), time_s, length)


def time_to_goals(graph: nx.DiGraph, goals: Iterable[str], profile: VehicleProfile = VehicleProfile()
                  ) -> dict[str, float]:
    """Fastest time from every node that can reach one of ``goals`` to the nearest of them: the exact
    conflict-free cost to go, hence an admissible heuristic for timed planning. Empty when the vehicle may enter
    none of them (``profile.avoid``)."""
    return time_back_to(lanes_reversed(graph, profile), goals)


def lanes_reversed(graph: nx.DiGraph, profile: VehicleProfile = VehicleProfile()) -> nx.DiGraph:
    """The lanes this vehicle may drive, each turned round, as a graph of its own (a copy: a search on it is
    about three times faster than on the filtered view). Each node's lanes come in the order of the graph's
    own, so a search takes the same steps on it as on the view, to the same times to the bit."""
    view = restricted_view(graph, profile)
    lanes = nx.DiGraph()
    lanes.add_nodes_from(view)
    lanes.add_edges_from((v, u, data) for v in view for u, data in view.pred[v].items())
    return lanes


def time_back_to(reversed_lanes: nx.DiGraph, goals: Iterable[str]) -> dict[str, float]:
    """:func:`time_to_goals` on lanes already turned round (``lanes_reversed``, kept by a caller that asks often)."""
    goals = [g for g in goals if g in reversed_lanes]
    if not goals:  # none it may enter: networkx refuses a search from no source
        return {}
    return nx.multi_source_dijkstra_path_length(reversed_lanes, goals, weight="travel_time")


class OnePlaceTables:
    """The cost to go to the nearest of some places as the minimum of each place's own table, each searched once.

    A stalled vehicle's last fallback asks for "the nearest place it may wait" among the places no one else
    has spoken for: a different set nearly every time, so a cache of whole sets missed and each ask was a new
    search. The minimum of the one-place tables is the same floats as one search from all the places
    (:func:`time_back_to`): a search finds, for each node, the least of its routes' times summed
    lane by lane, and rounding is monotone, so the least over all places is the least of each place's least.

    ``reversed_lanes``: a profile's lanes turned round (:func:`lanes_reversed`).
    """

    def __init__(self, reversed_lanes: nx.DiGraph) -> None:
        self.lanes = reversed_lanes
        self.nodes = list(reversed_lanes)
        self._index = {node: i for i, node in enumerate(self.nodes)}
        self._rows: dict[str, np.ndarray] = {}

    def row(self, place: str) -> np.ndarray:
        """Each node's time to ``place`` in the order of ``nodes`` (infinite where it cannot get there)."""
        row = self._rows.get(place)
        if row is None:
            row = np.full(len(self.nodes), math.inf)
            table = time_back_to(self.lanes, (place,))
            row[[self._index[node] for node in table]] = list(table.values())
            self._rows[place] = row
        return row

    def nearest(self, places: Iterable[str]) -> dict[str, float]:
        """node -> its time to the nearest of ``places``, for the nodes that reach one (the places this profile may
        not enter aside: none of them, none at all)."""
        rows = [self.row(place) for place in places if place in self._index]
        if not rows:
            return {}
        times = rows[0] if len(rows) == 1 else np.minimum.reduce(rows)
        return {node: t for node, t in zip(self.nodes, times.tolist(), strict=True) if t != math.inf}


def _restriction(profile: VehicleProfile) -> str:
    if profile.cross_border:
        return ""
    if profile.home:
        return f" staying in {profile.home} (relay vehicle)"
    return " without crossing the border (vehicle not authorized)"
