"""Routing on the corridor graph: direction, speed limits, per-vehicle restrictions."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest

from planner.corridor import WAITING_KINDS
from planner.exceptions import NoRoute, UnknownNode
from planner.routing import (
    OnePlaceTables,
    VehicleProfile,
    fastest_route,
    lanes_reversed,
    restricted_view,
    time_back_to,
    time_to_goals,
)


def test_fastest_route_follows_lanes_at_their_limits(bac_luan_ii):
    graph = bac_luan_ii.graph
    route = fastest_route(graph, "vn_parking_1", "cn_dock_1")
    assert route.nodes[0] == "vn_parking_1" and route.nodes[-1] == "cn_dock_1"
    assert all(graph.has_edge(u, v) for u, v in itertools.pairwise(route.nodes))  # lane direction kept
    expected = sum(graph.edges[u, v]["length"] / graph.edges[u, v]["max_speed"]
                   for u, v in itertools.pairwise(route.nodes))
    assert route.time_s == pytest.approx(expected)
    assert any(graph.edges[u, v]["crossing"] for u, v in itertools.pairwise(route.nodes))
    assert {"vn_gate_out_1", "vn_gate_out_2"} & set(route.nodes) and {"cn_gate_in_1", "cn_gate_in_2"} & set(route.nodes)


def test_time_to_goals_is_the_route_time(bac_luan_ii):
    table = time_to_goals(bac_luan_ii.graph, ["cn_dock_1"])
    assert table["vn_parking_1"] == pytest.approx(fastest_route(bac_luan_ii.graph, "vn_parking_1", "cn_dock_1").time_s)


def test_the_search_on_the_lanes_turned_round_is_the_search_on_the_view(bac_luan_ii):
    """The cost to go from the profile's own copy of its lanes: the same times to the bit, found in the same
    order, as the search through the filtered view it replaces (the plans, hence the runs, stay the same)."""
    graph = bac_luan_ii.graph
    nodes = sorted(graph)
    profiles = [VehicleProfile(), VehicleProfile(cross_border=False), VehicleProfile(max_speed=1.0),
                *(VehicleProfile(cross_border=False, home=side) for side in ("VN", "CN")),
                VehicleProfile(cross_border=False, home="VN", avoid=frozenset(nodes[::9]))]
    for profile in profiles:
        view, lanes = restricted_view(graph, profile), lanes_reversed(graph, profile)
        for k in range(0, len(nodes), 11):
            goals = [g for g in nodes[k:k + 1 + k % 4] if g in view]
            if not goals:
                continue
            expected = nx.multi_source_dijkstra_path_length(view.reverse(copy=False), goals, weight="travel_time")
            found = time_back_to(lanes, goals)
            assert list(found.items()) == list(expected.items())


def test_a_vehicle_without_authorization_cannot_be_routed_across(bac_luan_ii):
    with pytest.raises(NoRoute, match="not authorized"):
        fastest_route(bac_luan_ii.graph, "vn_parking_1", "cn_dock_1", VehicleProfile(cross_border=False))
    home = fastest_route(bac_luan_ii.graph, "vn_parking_1", "vn_dock_1", VehicleProfile(cross_border=False))
    assert not any(bac_luan_ii.graph.edges[u, v]["crossing"] for u, v in itertools.pairwise(home.nodes))


def test_relay_vehicles_reach_the_handoff_pad_from_their_own_side_only(bac_luan_ii):
    graph = bac_luan_ii.graph
    for side in ("VN", "CN"):
        profile = VehicleProfile(cross_border=False, home=side)
        route = fastest_route(graph, f"{side.lower()}_parking_1", "handoff", profile)
        assert all(graph.nodes[n]["jurisdiction"] == side for n in route.nodes[:-1])
        with pytest.raises(NoRoute, match="relay"):
            fastest_route(graph, f"{side.lower()}_parking_1", "border_northbound", profile)
    with pytest.raises(NoRoute):
        fastest_route(graph, "vn_parking_1", "cn_dock_1", VehicleProfile(cross_border=False, home="VN"))


def test_unknown_nodes_are_named(bac_luan_ii):
    with pytest.raises(UnknownNode, match="nowhere"):
        fastest_route(bac_luan_ii.graph, "nowhere", "cn_dock_1")


def test_a_crossing_vehicle_cannot_also_be_confined():
    with pytest.raises(ValueError, match="confined"):
        VehicleProfile(cross_border=True, home="VN")


def test_following_rules_come_from_the_map(bac_luan_ii):
    from planner.schedule import FollowingRules

    rules = FollowingRules.from_parameters(bac_luan_ii.parameters)
    assert (rules.vehicle_length_m, rules.headway_s) == (15.0, 2.0)
    assert FollowingRules.from_parameters({"min_headway_s": 3}).headway_s == 3.0
    assert rules.capacity_per_hour(25 / 3.6) == pytest.approx(3600 * (25 / 3.6) / (15 + 2 + 25 / 3.6 * 2))


def test_the_nearest_of_many_places_is_the_least_of_the_one_place_tables(bac_luan_ii):
    """The cost to go to the nearest of many places, as the minimum of each place's own table (what the planner
    asks for a stalled vehicle's last fallback, a different set of places nearly every time): the same nodes and
    the same floats to the bit as one search from all of them, for sets of every size, with and without places
    the profile may not enter."""
    graph = bac_luan_ii.graph
    nodes = sorted(graph)
    waiting = [n for n, kind in graph.nodes(data="kind") if kind in WAITING_KINDS]
    rng = random.Random(13)
    profiles = [VehicleProfile(), VehicleProfile(cross_border=False), VehicleProfile(max_speed=1.0),
                VehicleProfile(cross_border=False, home="CN"), VehicleProfile(avoid=frozenset(nodes[::7]))]
    for profile in profiles:
        lanes = lanes_reversed(graph, profile)
        tables = OnePlaceTables(lanes)
        sets = [rng.sample(pool, rng.randint(1, len(pool))) for pool in (nodes, waiting) for _ in range(12)]
        for places in [*sets, waiting, nodes[:1], [n for n in nodes if n not in lanes][:3]]:
            assert tables.nearest(places) == time_back_to(lanes, places)
