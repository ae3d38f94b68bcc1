"""The loader on the real Bac Luan II map: the measured facts and the layout's promises hold."""

from __future__ import annotations

import networkx as nx
import pytest

from planner.corridor import NodeKind, corridor_from_geojson
from planner.corridor.summary import summarize


def test_bridge_facts_hold(bac_luan_ii):
    """618 m deck, border line 154.5 m from the Vietnamese end (DESIGN + maps/bac_luan_ii/README.md)."""
    bridge = [z for z in bac_luan_ii.zones.values() if z.kind == "bridge"]
    ys = [y for z in bridge for _, y in z.polygon.exterior.coords]
    assert max(ys) - min(ys) == pytest.approx(618.0, abs=0.05)
    vn_bridge = next(z for z in bridge if z.jurisdiction == "VN")
    vn_end = min(y for _, y in vn_bridge.polygon.exterior.coords)
    border_y = [y for _, y in bac_luan_ii.border_line.coords]
    assert all(y - vn_end == pytest.approx(154.5, abs=0.05) for y in border_y)


def test_every_kind_the_issue_names_is_present(bac_luan_ii):
    for side in ("VN", "CN"):
        kinds = {n.kind for n in bac_luan_ii.nodes.values() if n.jurisdiction == side}
        assert {NodeKind.GATE, NodeKind.INSPECTION, NodeKind.HOLDING, NodeKind.DOCK, NodeKind.PARKING,
                NodeKind.CHARGER} <= kinds, side
    assert len(bac_luan_ii.nodes_of(NodeKind.HANDOFF)) == 1
    assert len(bac_luan_ii.nodes_of(NodeKind.BORDER)) == 2


def test_speed_limits_are_realistic(bac_luan_ii):
    kmh = {round(lane.max_speed * 3.6, 6) for lane in bac_luan_ii.lanes.values()}
    assert kmh == {5.0, 10.0, 25.0}
    gate_lanes = [lane for lane in bac_luan_ii.lanes.values()
                  if NodeKind.GATE in (bac_luan_ii.nodes[lane.source].kind, bac_luan_ii.nodes[lane.target].kind)]
    assert gate_lanes and all(lane.max_speed * 3.6 == pytest.approx(5.0) for lane in gate_lanes)


def test_approaches_have_the_documented_lengths(bac_luan_ii):
    for side, length in (("VN", 2000.0), ("CN", 1800.0)):
        approach = next(z for z in bac_luan_ii.zones.values() if z.kind == "approach" and z.jurisdiction == side)
        ys = [y for _, y in approach.polygon.exterior.coords]
        assert max(ys) - min(ys) == pytest.approx(length, abs=0.05)


def test_strongly_connected_and_every_crossing_route_is_gated(bac_luan_ii):
    graph = bac_luan_ii.graph
    assert nx.is_strongly_connected(graph)
    crossing = [(lane.source, lane.target) for lane in bac_luan_ii.crossing_lanes]
    assert len(crossing) == 8
    without_crossing = graph.copy()
    without_crossing.remove_edges_from(crossing)
    vn_docks = [n.id for n in bac_luan_ii.nodes_of(NodeKind.DOCK, jurisdiction="VN")]
    cn_docks = [n.id for n in bac_luan_ii.nodes_of(NodeKind.DOCK, jurisdiction="CN")]
    assert not any(nx.has_path(without_crossing, a, b) for a in vn_docks[:2] for b in cn_docks[:2])


def test_summary_routes_pass_both_gates_and_the_border(bac_luan_ii):
    summary = summarize(bac_luan_ii)
    assert summary.lane_count == len(bac_luan_ii.lanes)
    for route in summary.routes:
        start, end = route.direction.split("->")
        sides = [bac_luan_ii.nodes[g].jurisdiction for g in route.gates]
        assert sides == [start, end]
        assert len(route.crossing_lanes) == 2
        # 2.0 km + 1.8 km approaches and the 618 m bridge, plus both complexes
        assert 2000 + 1800 + 618 < route.length_m < 8000


def test_relay_mode_is_accepted_with_a_handoff_node(bac_luan_ii_raw):
    collection, config = bac_luan_ii_raw
    config["parameters"]["handoff_mode"] = "relay"
    corridor = corridor_from_geojson(collection, config)
    assert corridor.parameters["handoff_mode"] == "relay"


def test_the_nodes_of_a_kind_are_those_a_scan_finds_in_a_list_of_the_callers_own(bac_luan_ii):
    asked = (((NodeKind.DOCK,), "VN"), ((NodeKind.PARKING, NodeKind.CHARGER), None), ((NodeKind.GATE,), "CN"))
    for kinds, side in asked:
        scanned = [n for n in bac_luan_ii.nodes.values()
                   if n.kind in kinds and (side is None or n.jurisdiction == side)]
        first = bac_luan_ii.nodes_of(*kinds, jurisdiction=side)
        assert first == scanned and first
        first.clear()  # the caller's to change: the next answer is whole
        assert bac_luan_ii.nodes_of(*kinds, jurisdiction=side) == scanned
