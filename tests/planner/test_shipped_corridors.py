"""Every corridor shipped in maps/ loads, matches its layout.py, and is planned soundly (through or
relay, as its corridor.yaml says); the second corridor's facts are pinned."""

from __future__ import annotations

import importlib.util
import itertools
import sys

import pytest

from fleet.maps import default_map_folder, load_corridor, shipped_maps
from planner.corridor import NodeKind
from planner.schedule import FleetPlanner, FollowingRules
from sim.plan_scenario import plan_moment
from sim.planning_scenarios import random_requests
from tests.conftest import SHIPPED_MAPS
from tests.planner.test_schedule_properties import assert_sound

IDS = [p.name for p in SHIPPED_MAPS]


def test_the_package_finds_the_shipped_maps_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shipped_maps() == SHIPPED_MAPS and len(SHIPPED_MAPS) >= 2
    monkeypatch.delenv("XBORDER_MAP", raising=False)
    assert default_map_folder() in SHIPPED_MAPS and load_corridor(default_map_folder()).nodes


@pytest.mark.parametrize("folder", SHIPPED_MAPS, ids=IDS)
def test_committed_geojson_is_what_layout_py_writes(folder):
    spec = importlib.util.spec_from_file_location(f"{folder.name}_layout", folder / "layout.py")
    layout = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = layout  # dataclasses look their module up while the class is made
    spec.loader.exec_module(layout)
    assert layout.render_geojson() == (folder / "corridor.geojson").read_text(encoding="utf-8")


@pytest.mark.parametrize("folder", SHIPPED_MAPS, ids=IDS)
def test_no_lanes_cross_without_a_node(folder):
    """Issue 11: Bac Luan II had about 20 such pairs; where a node belonged, it now has one."""
    assert dict(load_corridor(folder).conflict_zones) == {}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("folder", SHIPPED_MAPS, ids=IDS)
def test_a_busy_moment_is_planned_soundly(folder, seed):
    corridor = load_corridor(folder)
    relay = corridor.parameters["handoff_mode"] == "relay"
    requests = random_requests(corridor, 60, seed=seed, relay=relay)
    planner = FleetPlanner(corridor.graph, FollowingRules.from_parameters(corridor.parameters))
    result = plan_moment(corridor, planner, requests, seed)
    assert result.stalled == {}
    assert_sound(planner, requests, seed)
    line = {n.id for n in corridor.nodes_of(NodeKind.BORDER, NodeKind.HANDOFF)}
    for plan in planner.plans.values():  # nobody waits on the border line but for a relay transfer
        for step in plan.steps:
            if step.node in line and not (plan.meets and step.action == "custody"):
                assert step.depart == step.arrive, (plan.vehicle_id, step)
    if relay:
        assert_relay_meetings(corridor, planner)


def assert_relay_meetings(corridor, planner) -> None:
    """Each relay pair meets at the pad, both there for the whole transfer, each step marked custody;
    nobody crosses the border line."""
    pad = corridor.nodes_of(NodeKind.HANDOFF)[0].id
    transfer = corridor.parameters["handoff_transfer_s"]
    meetings = [p for p in planner.plans.values() if p.meets]
    assert meetings
    for plan in meetings:
        (partner,) = plan.meets
        mine = next(s for s in plan.steps if s.action == "custody")
        theirs = next(s for s in planner.plans[partner].steps if s.action == "custody")
        assert mine.node == theirs.node == pad
        start = max(mine.arrive, theirs.arrive)
        assert min(mine.depart, theirs.depart) >= start + transfer - 1e-6
    for plan in planner.plans.values():
        sides = {corridor.nodes[s.node].jurisdiction for s in plan.steps
                 if corridor.nodes[s.node].kind not in (NodeKind.BORDER, NodeKind.HANDOFF)}
        assert len(sides) == 1, plan.vehicle_id


def test_kim_thanh_facts_and_assumptions_hold(kim_thanh):
    """maps/kim_thanh/README.md: relay mode; a 280 m deck (assumed) with the boundary at mid-deck; the deck
    drawn north-east from the VN bank; names in Vietnamese and Chinese."""
    assert kim_thanh.parameters["handoff_mode"] == "relay"
    assert len(kim_thanh.nodes_of(NodeKind.HANDOFF)) == 1
    bridge = [z for z in kim_thanh.zones.values() if z.kind == "bridge"]
    deck = sum(z.polygon.area for z in bridge) / 16.0
    assert deck == pytest.approx(280.0, abs=0.5)
    border = kim_thanh.border_line
    middle = border.interpolate(0.5, normalized=True)
    assert middle.distance(type(middle)(0, 0)) == pytest.approx(140.0, abs=0.5)
    assert 40 < middle.x and 40 < middle.y  # north-east of the VN end
    assert "河口" in kim_thanh.name and "Kim Thành" in kim_thanh.name


def test_a_through_trip_over_the_pad_gets_its_custody_step(bac_luan_ii):
    """On a corridor whose through route runs over the handoff pad, the step there is the custody handoff
    and the vehicle does not stop on it."""
    graph = bac_luan_ii.graph.copy()
    graph.remove_edge("vn_deck_out_1", "border_northbound")
    graph.add_edge("handoff", "cn_deck_in_1", **graph.edges["handoff", "vn_deck_in_1"])
    planner = FleetPlanner(graph)
    from planner.schedule import PlanRequest

    planner.plan_all([PlanRequest("a", "vn_parking_1", ("cn_dock_1",))])
    steps = planner.plans["a"].steps
    custody = [s for s in steps if s.action == "custody"]
    assert [s.node for s in custody] == ["handoff"] and custody[0].arrive == custody[0].depart
    assert all(a.node != b.node for a, b in itertools.pairwise(steps))


def test_orders_and_fleets_take_their_sides_from_the_map(kim_thanh):
    """Issue 11: sim.orders hard-coded the sides ("VN", "CN")."""
    import random

    from sim.orders import random_fleet, random_orders, sides_of

    assert sides_of(kim_thanh.graph) == kim_thanh.jurisdictions
    graph = kim_thanh.graph.copy()
    graph.graph["jurisdictions"] = ("LA", "TH")
    for node in graph:
        graph.nodes[node]["jurisdiction"] = {"VN": "LA", "CN": "TH"}[graph.nodes[node]["jurisdiction"]]
    assert sides_of(graph) == ("LA", "TH")
    rng = random.Random(3)
    orders, fleet = random_orders(graph, 30, rng), random_fleet(graph, 20, rng)
    sides = {(graph.nodes[o.pickup]["jurisdiction"], graph.nodes[o.drop]["jurisdiction"]) for o in orders}
    assert ("LA", "TH") in sides and ("TH", "LA") in sides
    assert {graph.nodes[v.node]["jurisdiction"] for v in fleet} == {"LA", "TH"}
