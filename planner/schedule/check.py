"""An independent check of a set of timed plans, written from the rules (docs/planning.md), not from the
planner's code, so tests can trust it. Returns every violation found, as readable sentences."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Mapping

import networkx as nx

from planner.corridor import BORDER_LINE_KINDS, WAITING_KINDS, NodeKind
from planner.routing import VehicleProfile
from planner.schedule.plans import FollowingRules, TimedPlan

__all__ = ["plan_violations"]

EPS = 1e-6


def plan_violations(graph: nx.DiGraph, plans: Mapping[str, TimedPlan], rules: FollowingRules,
                    profiles: Mapping[str, VehicleProfile] | None = None) -> list[str]:
    """Every broken rule in ``plans``: lanes that do not exist, driving faster than the limit, two vehicles
    at one node within the clearance (unless they meet at a handoff pad), following too close or
    overtaking on a lane, a lane group used both ways at once, a conflict zone (lanes meeting without a
    node) used from two lanes at once (each held from leaving the lane's start until the clearance after
    reaching its end, as a lane group), a vehicle waiting on the border line (but for a relay meeting's
    transfer), a plan that does not end for good at a node where a vehicle may wait, a vehicle on a lane
    its profile forbids; a plan it cannot read (no steps, a node not on the map, a time that is not a number),
    which is then left out of the checks against the others."""
    problems: list[str] = []
    # a visit holds its node at least at the instant it arrives, whatever the clearance (even a zero one)
    visits: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    lanes: dict[tuple[str, str], list[tuple[float, float, float, str]]] = defaultdict(list)
    groups: dict[str, list[tuple[float, float, tuple[str, str], str]]] = defaultdict(list)
    zones: dict[str, list[tuple[float, float, tuple[str, str], str]]] = defaultdict(list)
    profiles = profiles or {}
    readable = {}
    for vid, plan in plans.items():
        unreadable = _unreadable(graph, vid, plan)
        if unreadable:  # nothing else of it can be checked, nor checked against
            problems += unreadable
        else:
            readable[vid] = plan
    for vid, plan in readable.items():
        problems += _single_plan_problems(graph, vid, plan, profiles.get(vid, VehicleProfile()))
        for a, b in itertools.pairwise(plan.steps):
            if not graph.has_edge(a.node, b.node):
                continue
            speed = graph.edges[a.node, b.node]["max_speed"]
            clearance = (rules.vehicle_length_m + rules.standstill_gap_m) / speed + rules.headway_s
            visits[a.node].append((a.arrive, a.depart + clearance, vid))
            lanes[(a.node, b.node)].append((a.depart, b.arrive, clearance, vid))
            if graph.edges[a.node, b.node]["lane_group"]:
                groups[graph.edges[a.node, b.node]["lane_group"]].append(
                    (a.depart, b.arrive + clearance, (a.node, b.node), vid))
            for zone in graph.edges[a.node, b.node].get("conflict_zones", ()):
                zones[zone].append((a.depart, b.arrive + clearance, (a.node, b.node), vid))
        visits[plan.steps[-1].node].append((plan.steps[-1].arrive, math.inf, vid))
    for node, held in visits.items():
        held.sort()
        for (s1, e1, v1), (s2, e2, v2) in itertools.combinations(held, 2):
            meeting = graph.nodes[node]["kind"] == NodeKind.HANDOFF and (
                v2 in plans.get(v1, _NONE).meets or v1 in plans.get(v2, _NONE).meets)
            if v1 != v2 and _held_together(s1, e1, s2, e2) and not meeting:
                problems.append(f"node {node}: {v1} [{s1:.1f}, {e1:.1f}) and {v2} [{s2:.1f}, {e2:.1f}) overlap")
    for lane, uses in lanes.items():
        uses.sort()
        for (in1, out1, c1, v1), (in2, out2, _, v2) in itertools.pairwise(uses):
            if in2 < in1 + max(c1, 2 * EPS) - EPS or out2 < out1 + max(c1, 2 * EPS) - EPS:
                problems.append(f"lane {lane[0]}->{lane[1]}: {v2} follows {v1} too closely or overtakes "
                                f"(in {in1:.1f}->{in2:.1f}, out {out1:.1f}->{out2:.1f}, needs {c1:.1f} s)")
    for group, group_uses in groups.items():
        for (s1, e1, d1, v1), (s2, e2, d2, v2) in itertools.combinations(group_uses, 2):
            if v1 != v2 and d1 == (d2[1], d2[0]) and s2 < e1 - EPS and s1 < e2 - EPS:
                problems.append(f"lane group {group}: {v1} and {v2} use it in opposite directions at once")
    for zone, zone_uses in zones.items():
        for (s1, e1, l1, v1), (s2, e2, l2, v2) in itertools.combinations(zone_uses, 2):
            if v1 != v2 and l1 != l2 and s2 < e1 - EPS and s1 < e2 - EPS:
                problems.append(f"conflict zone {zone}: {v1} on {l1[0]}->{l1[1]} [{s1:.1f}, {e1:.1f}) and {v2} on "
                                f"{l2[0]}->{l2[1]} [{s2:.1f}, {e2:.1f}) at once")
    return problems


def _held_together(s1: float, e1: float, s2: float, e2: float) -> bool:
    """Whether two holds of one node, from arrival ``s`` until ``e`` (the clearance after leaving), share an
    instant. A hold is never shorter than its arrival instant: two arrivals at one instant always clash."""
    return abs(s1 - s2) <= EPS or (s2 < max(e1, s1) - EPS and s1 < max(e2, s2) - EPS)


def _unreadable(graph: nx.DiGraph, vid: str, plan: TimedPlan) -> list[str]:
    """What makes a plan (say, edited by hand) impossible to check: no steps, a step at a node not on the
    map, a time that is not a number (NaN compares false with everything, so it would pass every rule), an
    arrival that never comes."""
    if not plan.steps:
        return [f"{vid}: the plan has no steps"]
    problems = []
    for k, step in enumerate(plan.steps):
        if step.node not in graph:
            problems.append(f"{vid}: step {k} is at {step.node}, not a node of the map")
        times = [f"{name} {t}" for name, t, good in (("arrive", step.arrive, math.isfinite(step.arrive)),
                                                     ("depart", step.depart, not math.isnan(step.depart))) if not good]
        if times:
            problems.append(f"{vid}: step {k} at {step.node}: {', '.join(times)} (a time must be a number, an "
                            "arrival finite)")
    return problems


def _single_plan_problems(graph: nx.DiGraph, vid: str, plan: TimedPlan, profile: VehicleProfile) -> list[str]:
    problems = []
    last = plan.steps[-1]
    if not math.isinf(last.depart):
        problems.append(f"{vid}: the plan ends at {last.node} but does not stay there")
    if graph.nodes[last.node]["kind"] not in WAITING_KINDS:
        problems.append(f"{vid}: the plan ends at {last.node}, a {graph.nodes[last.node]['kind']}, where it may "
                        "not wait")
    for step in plan.steps:
        if step.depart < step.arrive - EPS:
            problems.append(f"{vid}: leaves {step.node} before it arrives")
        node = graph.nodes[step.node]
        meeting = node["kind"] == NodeKind.HANDOFF and plan.meets and step.action == "custody"
        if node["kind"] in BORDER_LINE_KINDS and step.depart > step.arrive + EPS and not meeting:
            problems.append(f"{vid}: waits {step.depart - step.arrive:.1f} s on the border line at {step.node}")
        if profile.home and node["kind"] != NodeKind.HANDOFF and (
                node["jurisdiction"] != profile.home or node["kind"] == NodeKind.BORDER):
            problems.append(f"{vid}: a relay vehicle of {profile.home} reaches {step.node} on the other side")
    for a, b in itertools.pairwise(plan.steps):
        if not graph.has_edge(a.node, b.node):
            problems.append(f"{vid}: no lane from {a.node} to {b.node}")
            continue
        data = graph.edges[a.node, b.node]
        minimum = data["length"] / data["max_speed"]
        if b.arrive - a.depart < minimum - EPS:
            problems.append(f"{vid}: drives {a.node}->{b.node} in {b.arrive - a.depart:.2f} s, faster than its "
                            f"limit allows ({minimum:.2f} s)")
        if data["crossing"] and not profile.cross_border and not profile.home:
            problems.append(f"{vid}: enters crossing lane {a.node}->{b.node} without cross-border authorization")
    return problems


_NONE = TimedPlan("", ())
