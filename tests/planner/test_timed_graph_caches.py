"""The timed graph's kept answers (a leg's cost to go through its stops, the fastest route to a set of goals)
against networkx's own shortest paths over the corridor, and their refusals naming the vehicle asking."""

from __future__ import annotations

import itertools
import math
import random

import networkx as nx
import pytest

from planner.corridor import WAITING_KINDS, NodeKind
from planner.exceptions import NoPlan
from planner.routing import VehicleProfile, restricted_view
from planner.schedule import PlanRequest
from planner.schedule.fleet import _fastest_to_any
from planner.schedule.plans import Stop
from planner.schedule.sipp import plan_path

PROFILES = [VehicleProfile(), VehicleProfile(cross_border=False), VehicleProfile(cross_border=False, home="CN")]


def _times_to(graph: nx.DiGraph, profile: VehicleProfile, goals: set[str]) -> dict[str, float]:
    """Oracle: each node's fastest time to the nearest goal at the lanes' limits (a search's heuristic, a bound
    whatever the vehicle's own speed), by Dijkstra on the profile's view turned round."""
    view = restricted_view(graph, profile).reverse(copy=False)
    sources = goals & set(view)
    return nx.multi_source_dijkstra_path_length(view, sources, weight="travel_time") if sources else {}


def test_the_cost_to_go_through_stops_is_the_fastest_time_through_them_with_their_dwells(planner):
    graph = planner.timed.graph
    rng = random.Random(5)
    docks = [n for n, kind in graph.nodes(data="kind") if kind == NodeKind.DOCK]
    waiting = [n for n, kind in graph.nodes(data="kind") if kind in WAITING_KINDS]
    checked = 0
    for _ in range(30):
        profile = rng.choice(PROFILES)
        stops = tuple((node, rng.choice([0.0, 45.0, 300.0])) for node in rng.sample(docks, rng.randint(0, 2)))
        goals = frozenset(rng.sample(waiting, 3))
        legs = planner.timed.legs_to_go(stops, goals, profile)
        oracle = [_times_to(graph, profile, set(goals))]
        for node, dwell in reversed(stops):
            if node not in oracle[0]:
                assert legs.unreachable_from == node and legs.tables == ()
                break
            to_stop = _times_to(graph, profile, {node})
            oracle.insert(0, {n: t + dwell + oracle[0][node] for n, t in to_stop.items()})
        else:
            assert legs.unreachable_from is None
            assert len(legs.tables) == len(stops) + 1
            for table, expected in zip(legs.tables, oracle, strict=True):
                assert table.keys() == expected.keys()
                assert all(math.isclose(table[n], expected[n], abs_tol=1e-6) for n in expected)
            checked += 1
        assert planner.timed.legs_to_go(stops, goals, profile) is legs  # asked again: kept
    assert checked >= 10


def test_the_fastest_route_to_the_nearest_goal_takes_as_long_as_networkx_s_shortest_path(planner):
    graph = planner.timed.graph
    rng = random.Random(8)
    nodes = sorted(graph)
    for _ in range(200):
        profile = rng.choice(PROFILES)
        source, goals = rng.choice(nodes), frozenset(rng.sample(nodes, rng.randint(1, 3)))
        oracle = _times_to(graph, profile, set(goals))
        route = planner.timed.fastest_route(source, goals, profile)
        if source not in oracle:
            assert route == ()
            continue
        assert route[0] == source and route[-1] in goals
        view = restricted_view(graph, profile)
        assert all(view.has_edge(u, v) for u, v in itertools.pairwise(route))
        travel = sum(graph.edges[u, v]["travel_time"] for u, v in itertools.pairwise(route))
        assert math.isclose(travel, oracle[source], abs_tol=1e-6)


def test_no_route_or_a_stop_out_of_reach_is_refused_in_the_name_of_each_vehicle_asking(planner):
    """The answers are kept for the map, the refusals said anew for each vehicle."""
    graph = planner.timed.graph
    first = {(d["kind"], d["jurisdiction"]): n for n, d in reversed(list(graph.nodes(data=True)))}
    vn_parking, vn_dock, cn_dock = first[NodeKind.PARKING, "VN"], first[NodeKind.DOCK, "VN"], first[NodeKind.DOCK, "CN"]
    home = VehicleProfile(cross_border=False)
    for vehicle in ("agv_a", "agv_b"):
        request = PlanRequest(vehicle, vn_parking, (cn_dock,), profile=home)
        with pytest.raises(NoPlan, match=f"^{vehicle}: no route from {vn_parking} to any of {cn_dock}$"):
            _fastest_to_any(planner.timed, vn_parking, (cn_dock,), request)
        with pytest.raises(NoPlan, match=f"^{vehicle}: cannot reach .* from stop {cn_dock}$"):
            plan_path(planner.table, vehicle, vn_parking, 0.0, (vn_dock,), home, (Stop(cn_dock, 60.0),))
