"""Properties of every set of plans the fleet planner produces, checked by the independent checker
(planner.schedule.check), the precedence graph and a delayed execution."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.schedule import FleetPlanner
from planner.schedule.check import plan_violations
from planner.schedule.precedence import precedence_graph, release_waits
from sim.plan_execution import execute_with_delays
from sim.planning_scenarios import random_requests


def assert_sound(planner: FleetPlanner, requests, seed: int = 0) -> None:
    plans = planner.plans
    profiles = {r.vehicle_id: r.profile for r in requests}
    assert plan_violations(planner.timed.graph, plans, planner.timed.rules, profiles) == []
    graph = precedence_graph(planner.timed, plans)
    assert nx.is_directed_acyclic_graph(graph)
    between_vehicles = {(a, b) for a, b in graph.edges if a[0] != b[0] or a == b}
    waits = release_waits(planner.timed, plans)  # what release reads
    assert set(waits.edges) == between_vehicles
    for event in waits:  # each event's, in the graph's order
        between = [b for b in graph.predecessors(event) if b[0] != event[0] or b == event]
        assert list(waits.predecessors(event)) == between
    run = execute_with_delays(planner.timed, plans, seed=seed)
    assert run.stuck == {} and set(run.finished) == set(plans)


@pytest.mark.parametrize("seed", range(100))
def test_random_scenarios_are_conflict_free_and_complete_without_deadlock(bac_luan_ii, planner, seed):
    count = 10 + (seed * 7) % 70
    requests = random_requests(bac_luan_ii, count, seed=seed, unauthorized_share=0.3, idle_share=0.1)
    result = planner.plan_all(requests)
    assert result.stalled == {}
    for request in requests:
        plan = result.plans[request.vehicle_id]
        assert plan.steps[0].node == request.start and plan.end in request.goals
    assert_sound(planner, requests, seed)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(2, 40), seed=st.integers(0, 10**6), moving=st.floats(0, 0.5))
def test_unauthorized_vehicles_never_enter_a_crossing_lane(bac_luan_ii, planner, count, seed, moving):
    requests = random_requests(bac_luan_ii, count, seed=seed, moving_share=moving, unauthorized_share=1.0)
    result = planner.plan_all(requests)
    graph = bac_luan_ii.graph
    for request in requests:
        if request.profile.cross_border:
            continue
        nodes = result.plans[request.vehicle_id].nodes
        assert not any(graph.edges[u, v]["crossing"] for u, v in itertools.pairwise(nodes))
    assert_sound(planner, requests, seed)


@pytest.mark.parametrize("count", [100, 200])
def test_large_fleets_are_planned_whole(bac_luan_ii, planner, count):
    requests = random_requests(bac_luan_ii, count, seed=count)
    assert planner.plan_all(requests).stalled == {}
    assert_sound(planner, requests)


def test_plans_keep_the_headway_on_the_bridge(bac_luan_ii, planner):
    """Vehicles queued for the bridge cross it spaced exactly by the clearance, not more."""
    requests = random_requests(bac_luan_ii, 60, seed=5, moving_share=0.0)
    planner.plan_all(requests)
    lane = ("vn_deck_out_1", "border_northbound")
    entries = sorted(step.depart for plan in planner.plans.values()
                     for step, nxt in itertools.pairwise(plan.steps) if (step.node, nxt.node) == lane)
    clearance = planner.timed.lanes[lane].clearance_s
    assert len(entries) > 5
    assert all(b - a >= clearance - 1e-6 for a, b in itertools.pairwise(entries))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), delays=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(1, 600)),
                                                   min_size=1, max_size=8))
def test_delays_are_absorbed_without_changing_routes(bac_luan_ii, planner, seed, delays):
    requests = random_requests(bac_luan_ii, 60, seed=seed % 1000)
    planner.plan_all(requests)
    routes = {vid: plan.nodes for vid, plan in planner.plans.items()}
    movers = sorted(vid for vid, plan in planner.plans.items() if len(plan.steps) > 1)
    for pick, where, late_s in delays:
        vid = movers[int(pick * (len(movers) - 1))]
        plan = planner.plans[vid]
        k = int(where * (len(plan.steps) - 1))
        before = dict(planner.plans)
        changed = planner.delay(vid, k, plan.steps[k].arrive + late_s).plans
        assert vid in changed and changed[vid].steps[k].arrive >= plan.steps[k].arrive + late_s - 1e-6
        assert all(planner.plans[other] == before[other] for other in before if other not in changed)
    assert {vid: plan.nodes for vid, plan in planner.plans.items()} == routes
    assert_sound(planner, requests, seed)
