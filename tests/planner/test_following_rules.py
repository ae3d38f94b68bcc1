"""Following rules are validated (a positive clearance, errors naming the field), and the independent
checker catches two vehicles at one node at one instant even when the rules it is given are wrong."""

from __future__ import annotations

import sys
from pathlib import Path

import networkx as nx
import pytest

from planner.corridor import NodeKind
from planner.exceptions import InvalidRequest
from planner.schedule import INF, FleetPlanner, FollowingRules, PlanRequest, Step, TimedPlan
from planner.schedule.check import plan_violations
from planner.schedule.precedence import precedence_graph

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
import movingai


@pytest.mark.parametrize(("given", "field"), [
    (dict(vehicle_length_m=0.0), "vehicle_length_m (map parameter agv_length_m) must be a finite number > 0"),
    (dict(standstill_gap_m=-1.0), "standstill_gap_m (map parameter standstill_gap_m) must be a finite number >= 0"),
    (dict(headway_s=float("nan")), "headway_s (map parameter min_headway_s)"),
    (dict(headway_s="2 s"), "headway_s (map parameter min_headway_s) must be a finite number >= 0, got '2 s'"),
])
def test_following_rules_refuse_a_bad_field_naming_it(given, field):
    with pytest.raises(InvalidRequest, match=field.replace("(", r"\(").replace(")", r"\)")):
        FollowingRules(**given)


def test_map_parameters_are_checked_when_read():
    with pytest.raises(InvalidRequest, match="agv_length_m"):
        FollowingRules.from_parameters({"agv_length_m": 0})
    assert FollowingRules.from_parameters({"min_headway_s": 3}).clearance_s(1.0) == pytest.approx(17 + 3)


def _cross() -> nx.DiGraph:
    """A plus-shaped grid: the centre c1_1 and its four neighbours."""
    graph = nx.DiGraph()
    cells = [(1, 1), (0, 1), (2, 1), (1, 0), (1, 2)]
    for x, y in cells:
        graph.add_node(movingai.cell(x, y), kind=NodeKind.PARKING, jurisdiction="VN", zone="grid", x=x, y=y)
    for x, y in cells[1:]:
        for a, b in ((movingai.cell(x, y), "c1_1"), ("c1_1", movingai.cell(x, y))):
            graph.add_edge(a, b, lane=f"{a}->{b}", length=1.0, max_speed=1.0, travel_time=1.0, crossing=False,
                           lane_group=None, conflict_zones=())
    return graph


def test_two_vehicles_at_one_node_at_one_instant_are_caught_even_with_zero_clearance():
    """Found: with length, gap and headway all 0 a passing vehicle held its node for no time, and two
    vehicles crossing the centre at the same instant were not reported."""
    graph = _cross()
    east = TimedPlan("east", (Step("c0_1", 0, 0), Step("c1_1", 1, 1), Step("c2_1", 2, INF)))
    north = TimedPlan("north", (Step("c1_0", 0, 0), Step("c1_1", 1, 1), Step("c1_2", 2, INF)))
    wrong = FollowingRules()
    for name in ("vehicle_length_m", "standstill_gap_m", "headway_s"):
        object.__setattr__(wrong, name, 0.0)  # rules that escaped validation
    problems = plan_violations(graph, {"east": east, "north": north}, wrong)
    assert any("node c1_1" in p for p in problems), problems
    behind = TimedPlan("behind", (Step("c0_1", 0, 0), Step("c1_1", 1, 1), Step("c1_2", 2, INF)))
    problems = plan_violations(graph, {"east": east, "behind": behind}, wrong)
    assert any("lane c0_1->c1_1" in p for p in problems), problems


@pytest.mark.slow
def test_movingai_random_32_32_10_with_100_agents():
    """The MovingAI benchmark grid with its scenario's first 100 agents: every agent planned, no rule broken
    by the independent checker, the precedence graph acyclic (so delays cannot deadlock the fleet)."""
    graph = movingai.read_grid(movingai.DATA / "random-32-32-10.map")
    agents = movingai.read_scenario(movingai.DATA / "random-32-32-10-random-1.scen", 100)
    rules = movingai.RULES
    planner = FleetPlanner(graph, rules)
    result = planner.plan_all([PlanRequest(f"a{i:03d}", a.start, (a.goal,)) for i, a in enumerate(agents)])
    assert not result.stalled
    assert all(result.plans[f"a{i:03d}"].end == a.goal for i, a in enumerate(agents))
    assert plan_violations(graph, result.plans, rules) == []
    assert nx.is_directed_acyclic_graph(precedence_graph(planner.timed, result.plans))
    cost = sum(p.finish_time for p in result.plans.values())
    bound = movingai.lower_bound(graph, agents)
    print(f"\n100 agents: sum of costs {cost:.0f}, lower bound {bound}")
    assert bound <= cost <= 1.5 * bound


@pytest.mark.parametrize(("steps", "said"), [
    ((), "plan has no steps"),
    ((Step("c0_1", 0, 0), Step("nowhere", 1, 1), Step("c2_1", 2, INF)), "step 1 is at nowhere, not a node of the map"),
    ((Step("c0_1", 0, 0), Step("c1_1", 1, 1), Step("atlantis", 2, INF)), "step 2 is at atlantis, not a node"),
    ((Step("c0_1", 0, 0), Step("c1_1", float("nan"), 1), Step("c2_1", 2, INF)), "step 1 at c1_1: arrive nan"),
    ((Step("c0_1", 0, 0), Step("c1_1", 1, float("nan")), Step("c2_1", 2, INF)), "step 1 at c1_1: depart nan"),
    ((Step("c0_1", 0, 0), Step("c1_1", INF, INF), Step("c2_1", 2, INF)), "step 1 at c1_1: arrive inf"),
])
def test_a_hand_edited_plan_the_checker_cannot_read_is_named_not_a_traceback(steps, said):
    """Found: a plan with a step at a node not on the map, or with no steps, made the checker raise
    KeyError / IndexError; one with a NaN time passed with no violation at all (every comparison with NaN
    is false). Each is now a violation naming the vehicle and the step; the other plans are still checked."""
    graph = _cross()
    edited = TimedPlan("edited", steps)
    other = TimedPlan("other", (Step("c1_0", 0, 0), Step("c1_1", 1, 1), Step("c1_2", 2, INF)))
    problems = plan_violations(graph, {"edited": edited, "other": other}, FollowingRules())
    assert any(p.startswith("edited: ") and said in p for p in problems), problems
    clash = TimedPlan("clash", (Step("c1_2", 0, INF),))  # the other plan ends where this one stays: still found
    problems = plan_violations(graph, {"edited": edited, "other": other, "clash": clash}, FollowingRules())
    assert any("node c1_2" in p for p in problems), problems
