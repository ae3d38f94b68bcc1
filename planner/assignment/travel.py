"""Fastest node-to-node travel times (and the length of those routes, for energy) per vehicle profile."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import networkx as nx
import numpy as np

from planner.corridor import NodeKind
from planner.routing import OnePlaceTables, VehicleProfile, lanes_reversed, restricted_view

__all__ = ["TravelTimes"]


class TravelTimes:
    """Fastest times between corridor nodes, one Dijkstra per (profile, source) on first use, then kept.

    The dispatch loop keeps one between calls, so each round only pays for sources it has not seen (a
    vehicle's new position, a new pickup). Build a new one when the graph changes. A pair with no route
    for the profile (e.g. a crossing for a vehicle not authorized) is absent: ``inf`` in :meth:`matrix`.
    """

    def __init__(self, graph: nx.DiGraph, nearest_kept: int = 256) -> None:
        self.graph = graph
        #: each profile's lanes, node -> {next node: lane data}, copied from its view once (a search on a copy
        #: is about three times faster than on the filtered view; the same order, so the same result)
        self._lanes: dict[VehicleProfile, dict[str, dict[str, dict[str, Any]]]] = {}
        self._from: dict[tuple[VehicleProfile, str], dict[str, tuple[float, float]]] = {}
        self.chargers = tuple(n for n, kind in graph.nodes(data="kind") if kind == NodeKind.CHARGER)
        self._to_each: OnePlaceTables | None = None  # to_nearest's tables, made on first use
        #: to_nearest's answers, for the last ``nearest_kept`` sets of targets asked (most assignment rounds of a
        #: busy day ask it, for a few sets of pickups)
        self._nearest = lru_cache(maxsize=nearest_kept)(self._nearest_to)

    def from_node(self, source: str, profile: VehicleProfile) -> Mapping[str, tuple[float, float]]:
        """``{target: (time_s, length_m)}`` over the fastest routes from ``source`` this profile may drive."""
        key = (profile, source)
        if key not in self._from:
            if profile not in self._lanes:
                view = restricted_view(self.graph, profile)
                self._lanes[profile] = {node: dict(view[node]) for node in view}
            lanes = self._lanes[profile]  # a node the profile may not enter (the other side, relay) reaches nothing
            self._from[key] = _fastest_from(lanes, source) if source in lanes else {}
        return self._from[key]

    def to_nearest(self, targets: Sequence[str]) -> Mapping[str, float]:
        """``{node: time_s}`` from each node to the nearest of ``targets`` on the whole graph (ranking many vehicles
        by their nearness to a few pickups): the least of each target's own table, searched once, which is the
        same floats as one search backwards from all of them (:class:`planner.routing.OnePlaceTables`). Kept (the
        answer is shared: read it, never write it)."""
        return self._nearest(tuple(targets))

    def _nearest_to(self, targets: tuple[str, ...]) -> Mapping[str, float]:
        if self._to_each is None:
            self._to_each = OnePlaceTables(lanes_reversed(self.graph))
        return self._to_each.nearest(targets)

    def matrix(self, nodes: Sequence[str], profile: VehicleProfile) -> tuple[np.ndarray, np.ndarray]:
        """Times (s) and lengths (m) from each of ``nodes`` to each of them, ``inf`` where there is no route."""
        times = np.full((len(nodes), len(nodes)), np.inf)
        lengths = np.full((len(nodes), len(nodes)), np.inf)
        for i, source in enumerate(nodes):
            reach = self.from_node(source, profile)
            for j, target in enumerate(nodes):
                if target in reach:
                    times[i, j], lengths[i, j] = reach[target]
        return times, lengths

    def to_charger_m(self, nodes: Sequence[str], profile: VehicleProfile) -> np.ndarray:
        """Metres from each node to the charger it reaches with the least driving (``inf`` if none)."""
        out = np.full(len(nodes), np.inf)
        for i, source in enumerate(nodes):
            reach = self.from_node(source, profile)
            out[i] = min((reach[c][1] for c in self.chargers if c in reach), default=np.inf)
        return out


def _fastest_from(lanes: Mapping[str, Mapping[str, Mapping[str, Any]]], source: str
                  ) -> dict[str, tuple[float, float]]:
    """Dijkstra on lane time that also carries the route length (ties: the shorter route)."""
    done: dict[str, tuple[float, float]] = {}
    heap = [(0.0, 0.0, source)]
    while heap:
        time_s, length, node = heapq.heappop(heap)
        if node in done:
            continue
        done[node] = (time_s, length)
        for nxt, data in lanes[node].items():
            if nxt not in done:
                heapq.heappush(heap, (time_s + data["travel_time"], length + data["length"], nxt))
    return done
