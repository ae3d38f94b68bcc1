"""The corridor graph prepared once for timed planning: per-lane timing, lane-group orientation, adjacency
per vehicle profile and cached cost-to-go tables (the heuristic of every search)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import networkx as nx

from planner.corridor import BORDER_LINE_KINDS
from planner.routing import OnePlaceTables, VehicleProfile, lanes_reversed, restricted_view
from planner.schedule.plans import FollowingRules

__all__ = ["LaneTiming", "LegsToGo", "TimedGraph"]


@dataclass(frozen=True)
class LaneTiming:
    target: str
    travel_s: float  # at the speed limit
    clearance_s: float  # how long the vehicle keeps the lane's start node after leaving it
    group: str | None  # single-lane section used one direction at a time
    forward: bool  # orientation within the group: vehicles with opposite orientations may not overlap
    crossing: bool
    zones: tuple[str, ...] = ()  # conflict zones on the lane: used by one lane at a time
    source: str = ""

    @cached_property  # (asked for every lane through a zone of every plan, each time precedence is found)
    def way(self) -> str:
        """How this lane uses a conflict zone: lanes with different ways may not overlap there."""
        return f"{self.source}>{self.target}"


@dataclass(frozen=True)
class LegsToGo:
    """A search's heuristic through its stops: per leg (before the first stop, ..., after the last), the fastest
    time from each node to a goal through the stops left, with their dwells (read, never written: shared)."""

    tables: tuple[dict[str, float], ...]
    unreachable_from: str | None = None  # a stop from which no goal can be reached (``tables`` then empty)


class TimedGraph:
    """Read-only planning view of a corridor graph under some following rules."""

    def __init__(self, graph: nx.DiGraph, rules: FollowingRules = FollowingRules(), heuristic_cache: int = 1024,
                 route_cache: int = 4096):
        self.graph, self.rules = graph, rules
        self.node_ids = frozenset(graph)  # (a set's ``issuperset`` checks a request's goals in one call)
        forward = _group_orientations(graph)
        self.lanes: dict[tuple[str, str], LaneTiming] = {
            (u, v): LaneTiming(v, d["travel_time"], rules.clearance_s(d["max_speed"]), d["lane_group"],
                               forward.get((u, v), True), bool(d["crossing"]), tuple(d.get("conflict_zones", ())), u)
            for u, v, d in graph.edges(data=True)
        }
        self._min_clearance = {
            u: min((self.lanes[(u, v)].clearance_s for v in graph.successors(u)), default=0.0) for u in graph
        }
        #: border and handoff nodes: nobody is planned to wait there (but for a relay transfer at the pad)
        self.on_the_line = frozenset(n for n, kind in graph.nodes(data="kind") if kind in BORDER_LINE_KINDS)
        self._adjacency: dict[VehicleProfile, dict[str, list[LaneTiming]]] = {}
        #: the profile asked last and its adjacency: one request's plan asks for it several times, with the same
        #: profile object (hashed and compared field by field in Python, a dataclass's hash and == are not free)
        self._last_asked: tuple[VehicleProfile | None, dict[str, list[LaneTiming]]] = (None, {})
        self._one_place: dict[VehicleProfile, OnePlaceTables] = {}  # each profile's cost to go, place by place
        self.cost_to_go = lru_cache(maxsize=heuristic_cache)(self._cost_to_go)
        # the map does not change: a full plan of the fleet asks these again for most of its vehicles (a whole
        # day of target_2030: 980 legs and 461 routes asked 54,064 and 54,600 times)
        self.legs_to_go = lru_cache(maxsize=heuristic_cache)(self._legs_to_go)
        self.fastest_route = lru_cache(maxsize=route_cache)(self._fastest_route)

    def successors(self, profile: VehicleProfile) -> dict[str, list[LaneTiming]]:
        """node -> the lanes this vehicle may take from it, timed at its speed (``profile.max_speed``) where
        that is below the lane's limit."""
        if profile is self._last_asked[0]:
            return self._last_asked[1]
        adjacency = self._adjacency.get(profile)  # (one hash of the profile, not two: a call per plan)
        if adjacency is None:
            view = restricted_view(self.graph, profile)
            adjacency = self._adjacency[profile] = {u: [self._timed_for(self.lanes[(u, v)], profile.max_speed)
                                                        for v in view.successors(u)] for u in view}
        self._last_asked = profile, adjacency
        return adjacency

    def _timed_for(self, lane: LaneTiming, max_speed: float | None) -> LaneTiming:
        limit = self.graph.edges[lane.source, lane.target]["max_speed"]
        if max_speed is None or max_speed >= limit:
            return lane
        length = self.graph.edges[lane.source, lane.target]["length"]
        return replace(lane, travel_s=length / max_speed, clearance_s=self.rules.clearance_s(max_speed))

    def min_clearance(self, node: str) -> float:
        """The shortest time a vehicle can keep ``node`` after leaving it (the fastest lane out)."""
        return self._min_clearance[node]

    def _cost_to_go(self, goals: frozenset[str], profile: VehicleProfile) -> dict[str, float]:
        if profile not in self._one_place:
            self._one_place[profile] = OnePlaceTables(lanes_reversed(self.graph, profile))
        return self._one_place[profile].nearest(goals)

    def _legs_to_go(self, stops: tuple[tuple[str, float], ...], goals: frozenset[str],
                    profile: VehicleProfile) -> LegsToGo:
        """``stops``: each stop's node and dwell, in order."""
        final = self.cost_to_go(goals, profile)
        tables, rest = [final], final
        for node, dwell_s in reversed(stops):
            if node not in rest:
                return LegsToGo((), node)
            extra = dwell_s + rest[node]
            rest = {other: t + extra for other, t in self.cost_to_go(frozenset({node}), profile).items()}
            tables.append(rest)
        return LegsToGo(tuple(tables[::-1]))

    def _fastest_route(self, source: str, goals: frozenset[str], profile: VehicleProfile) -> tuple[str, ...]:
        """The fastest route (ignoring other vehicles) from ``source`` to the nearest of ``goals``, down the
        cost-to-go table; () when there is none."""
        to_go = self.cost_to_go(goals, profile)
        if source not in to_go:
            return ()
        lanes = self.successors(profile)
        route = [source]
        while to_go[route[-1]] > 0.0:
            route.append(min((lane for lane in lanes[route[-1]] if lane.target in to_go),
                             key=lambda lane: lane.travel_s + to_go[lane.target]).target)
        return tuple(route)


def _group_orientations(graph: nx.DiGraph) -> dict[tuple[str, str], bool]:
    """Orient every lane group: a lane is 'forward' when it leads away from the group's first node (breadth
    first over the group's segments). A two-way lane's two directions thus get opposite orientations, and
    a chain of segments gets one orientation per direction of travel."""
    segments: dict[str, nx.Graph] = {}
    for u, v, d in graph.edges(data=True):
        if d["lane_group"]:
            segments.setdefault(d["lane_group"], nx.Graph()).add_edge(u, v)
    forward: dict[tuple[str, str], bool] = {}
    for group in segments.values():
        for component in nx.connected_components(group):
            root = min(component)
            depth = {root: 0}
            queue = deque([root])
            while queue:
                node = queue.popleft()
                for other in group[node]:
                    if other not in depth:
                        depth[other] = depth[node] + 1
                        queue.append(other)
            for u, v in group.subgraph(component).edges:
                forward[(u, v)] = depth[v] > depth[u]
                forward[(v, u)] = depth[u] > depth[v]
    return forward
