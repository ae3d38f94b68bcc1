"""Lanes that cross without a node: found as conflict zones, and never used by two vehicles at once.

The random corridors are ring roads with straight chords across them, both ways, and a parking place
on a spur outside each ring node (so that parked vehicles block nobody, docs/maps.md): the chords
cross each other inside the ring, where there is no node.
"""

from __future__ import annotations

import itertools
import math
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from planner.corridor import Lane, Node, NodeKind
from planner.corridor.crossings import ConflictZone, conflict_zones
from planner.corridor.model import build_graph
from planner.schedule import FleetPlanner, FollowingRules, PlanRequest
from planner.schedule.check import plan_violations
from planner.schedule.precedence import precedence_graph
from sim.plan_execution import execute_with_delays

WIDTH_M = 3.0
SPUR_M = 20.0


def ring_with_chords(places: int, chords: list[tuple[int, int]], speeds: list[float], radius: float = 120.0
                     ) -> tuple[nx.DiGraph, list[ConflictZone], dict[str, Lane]]:
    nodes = {}
    for k in range(places):
        angle = 2 * math.pi * k / places
        for kind, name, r in ((NodeKind.WAYPOINT, f"r{k}", radius), (NodeKind.PARKING, f"p{k}", radius + SPUR_M)):
            nodes[name] = Node(name, kind, "yard", "VN", r * math.cos(angle), r * math.sin(angle))
    lanes: dict[str, Lane] = {}

    def lane(a: str, b: str, speed: float) -> None:
        geometry = LineString([nodes[a].point, nodes[b].point])
        lanes[f"{a}-{b}"] = Lane(f"{a}-{b}", a, b, speed, geometry)

    for k in range(places):
        for a, b in ((f"r{k}", f"r{(k + 1) % places}"), (f"r{k}", f"p{k}")):
            lane(a, b, 3.0)
            lane(b, a, 3.0)
    for (i, j), speed in zip(chords, itertools.cycle(speeds)):
        lane(f"r{i}", f"r{j}", speed)
        lane(f"r{j}", f"r{i}", speed)
    zones = conflict_zones(nodes, lanes, WIDTH_M)
    return build_graph(nodes, lanes, zones), zones, lanes


def occupancy(lane: Lane, passage: tuple[float, float], depart: float, length_m: float) -> tuple[float, float]:
    """When some part of a vehicle (front to rear, ``length_m``) is on the zone's stretch of the lane."""
    start_m, end_m = passage
    return depart + start_m / lane.max_speed, depart + (end_m + length_m) / lane.max_speed


def test_two_crossing_chords_make_one_zone_in_the_middle():
    _, zones, _ = ring_with_chords(8, [(0, 4), (2, 6)], [5.0])
    assert len(zones) == 1
    zone = zones[0]
    assert zone.where.distance(LineString([(0, 0), (0, 0.001)])) < 1.0
    assert set(zone.passages) == {"r0-r4", "r4-r0", "r2-r6", "r6-r2"}
    start, end = zone.passages["r0-r4"]
    assert start == pytest.approx(120 - WIDTH_M) and end == pytest.approx(120 + WIDTH_M)


def test_lanes_diverging_from_a_shared_node_make_no_zone():
    _, zones, _ = ring_with_chords(8, [(0, 3), (0, 4)], [5.0])
    assert zones == []


def test_a_vehicle_waits_for_the_crossing_lane_to_clear():
    graph, _, _ = ring_with_chords(8, [(0, 4), (2, 6)], [5.0])
    planner = FleetPlanner(graph, FollowingRules())
    first = planner.plan_all([PlanRequest("a", "p0", ("p4",)), PlanRequest("b", "p2", ("p6",))])
    assert first.stalled == {}
    a, b = first.plans["a"], first.plans["b"]
    assert a.nodes == ("p0", "r0", "r4", "p4") and b.nodes == ("p2", "r2", "r6", "p6")
    lane = planner.timed.lanes[("r0", "r4")]
    # one of them enters only after the other has come out and cleared the end of its chord
    later, earlier = sorted((a, b), key=lambda p: p.steps[1].depart, reverse=True)
    assert later.steps[1].depart >= earlier.steps[2].arrive + lane.clearance_s - 1e-6
    assert plan_violations(graph, first.plans, planner.timed.rules) == []


def test_the_checker_sees_two_vehicles_in_a_zone_at_once():
    graph, _, _ = ring_with_chords(8, [(0, 4), (2, 6)], [5.0])
    planner = FleetPlanner(graph, FollowingRules())
    from planner.schedule import INF, Step, TimedPlan

    spur = SPUR_M / 3.0
    plans = {"a": TimedPlan("a", (Step("r0", 0, 0), Step("r4", 48, 48), Step("p4", 48 + spur, INF))),
             "b": TimedPlan("b", (Step("r2", 0, 0), Step("r6", 48, 48), Step("p6", 48 + spur, INF)))}
    problems = plan_violations(graph, plans, planner.timed.rules)
    assert len(problems) == 1 and problems[0].startswith("conflict zone r0-r4 x r2-r6")


def assert_nobody_shares_a_zone(zones: list[ConflictZone], lanes: dict[str, Lane], plans, length_m: float) -> None:
    for zone in zones:
        inside = []
        for vid, plan in plans.items():
            for here, nxt in itertools.pairwise(plan.steps):
                lane_id = f"{here.node}-{nxt.node}"
                if lane_id in zone.passages:
                    inside.append((*occupancy(lanes[lane_id], zone.passages[lane_id], here.depart, length_m),
                                   lane_id, vid))
        for (s1, e1, l1, v1), (s2, e2, l2, v2) in itertools.combinations(inside, 2):
            # vehicles following each other on one lane keep the lane's spacing (checked apart), as on any lane
            assert not (l1 != l2 and s1 < e2 and s2 < e1), f"{v1} on {l1} and {v2} on {l2} in {zone.id} at once"


@settings(max_examples=80, deadline=None)
@given(places=st.integers(6, 12), seed=st.integers(0, 10**6), vehicles=st.integers(2, 5),
       speeds=st.lists(st.sampled_from([1.5, 2.8, 4.0, 6.9]), min_size=1, max_size=3),
       late=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(1, 120)))
def test_no_two_vehicles_are_in_a_conflict_zone_at_once(places, seed, vehicles, speeds, late):
    rng = random.Random(seed)
    pairs = [(i, j) for i, j in itertools.combinations(range(places), 2) if 1 < (j - i) < places - 1]
    chords = rng.sample(pairs, min(len(pairs), rng.randint(2, 6)))
    graph, zones, lanes = ring_with_chords(places, chords, speeds)
    spots = rng.sample(range(places), min(places, 2 * vehicles))
    starts, goals = spots[:len(spots) // 2], spots[len(spots) // 2:]
    requests = [PlanRequest(f"v{k}", f"p{s}", (f"p{g}",), start_time=rng.uniform(0, 20))
                for k, (s, g) in enumerate(zip(starts, goals))]
    planner = FleetPlanner(graph, FollowingRules())
    result = planner.plan_all(requests)
    assert result.stalled == {}
    rules = planner.timed.rules
    assert plan_violations(graph, result.plans, rules) == []
    assert nx.is_directed_acyclic_graph(precedence_graph(planner.timed, result.plans))
    assert execute_with_delays(planner.timed, result.plans, seed=seed).stuck == {}
    assert_nobody_shares_a_zone(zones, lanes, planner.plans, rules.vehicle_length_m)
    # a vehicle running late: the delay is passed on along the zones' order too
    pick, where, late_s = late
    vid = sorted(planner.plans)[int(pick * (len(planner.plans) - 1))]
    k = int(where * (len(planner.plans[vid].steps) - 1))
    planner.delay(vid, k, planner.plans[vid].steps[k].arrive + late_s)
    assert plan_violations(graph, planner.plans, rules) == []
    assert_nobody_shares_a_zone(zones, lanes, planner.plans, rules.vehicle_length_m)
