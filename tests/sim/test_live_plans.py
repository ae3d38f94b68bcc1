"""What the live runs (the demo, ROS mode) plan before any process starts: the customs simulators' quick first
consignments, their schedule files, and the nodes past a customs gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.customs_authority import Profile, Scheduled, build_schedule, consignment_ids, read_schedule, write_schedule

MAP = Path(__file__).resolve().parents[2] / "maps" / "bac_luan_ii"


def _by_consignment(schedule: list[Scheduled]) -> dict[str, list[Scheduled]]:
    out: dict[str, list[Scheduled]] = {}
    for item in schedule:
        if item.fields.get("consignment_id"):
            out.setdefault(item.fields["consignment_id"], []).append(item)
    return out


@pytest.mark.parametrize(("authority", "side"), [("VN_CUSTOMS", "VN"), ("CN_CUSTOMS", "CN")])
def test_the_quick_consignments_are_green_and_released_within_two_and_a_half_minutes(authority, side):
    profile = Profile(consignments=60, backlog=8, quick=8, seed=7, arrival_spread_s=7200)
    events = _by_consignment(build_schedule(authority, side, profile))
    ids = [c for c, _ in consignment_ids(profile)]  # in the order drawn: the first 8 are the quick ones
    for consignment in ids[:8]:
        kinds = [e.fields["type"] for e in events[consignment]]
        assert kinds == ["declaration.accepted", "channel.assigned", "released"], (consignment, kinds)
        assert events[consignment][1].fields["payload"] == {"channel": "green"}
        assert events[consignment][-1].at - events[consignment][0].at <= 150.0
    # the rest keep the channel mix: some inspected (60 drawn, 52 not quick: none inspected is 1 in 10^2 at CN)
    assert any("inspection.required" in [e.fields["type"] for e in events[c]] for c in ids[8:])


def test_a_schedule_file_round_trips_and_a_bad_one_is_refused_with_its_name(tmp_path):
    items = [Scheduled(0.0, {"type": "heartbeat"}), Scheduled(12.5, {"type": "released", "consignment_id": "VN-1"})]
    path = write_schedule(tmp_path / "s.json", 1_700_000_000.0, items)
    t0, read = read_schedule(path)
    assert t0 == 1_700_000_000.0 and [(e.at, e.fields) for e in read] == [(e.at, e.fields) for e in items]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"events": []}))
    with pytest.raises(ValueError, match=r"bad\.json: not a customs schedule"):
        read_schedule(bad)


def test_the_nodes_past_a_gate_are_the_approach_and_the_bridge_not_the_yard():
    from fleet.maps import load_corridor
    from planner.corridor import NodeKind
    from sim.live import beyond_gates

    corridor = load_corridor(MAP)
    past = beyond_gates(corridor)
    assert {lane.source for lane in corridor.crossing_lanes} <= past  # the last nodes before the border
    assert not past & {n.id for n in corridor.nodes_of(NodeKind.GATE)}
    assert not past & {n.id for n in corridor.nodes_of(NodeKind.DOCK)}
    assert not past & {n.id for n in corridor.nodes_of(NodeKind.PARKING)}
