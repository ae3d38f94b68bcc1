"""A vehicle found across the border, or on its line, with no crossing released to it (driven by hand, or one
that ignores its releases) is stopped, taken out of service, raised as an alarm and, across, recorded as a
crossing without a decision for both customs. Found by trying it: such a vehicle was not noticed at all (the
fleet followed only the nodes of its own orders, and the safety count was the simulator's, not the fleet's)."""

from __future__ import annotations

import pytest
import shapely
from agv_agent.protocol import EStop

from fleet.alarms import AlarmKind
from fleet.dispatch.border_watch import (
    OFF_THE_MAP_M,
    PAST_ITS_BASE_M,
    BorderWatch,
    OffTheMap,
    PastItsBase,
    UnreleasedCrossing,
    sighting,
    unplaced,
)
from fleet.maps import load_corridor
from fleet.store import AuditKind
from planner.corridor import BORDER_LINE_KINDS
from tests.fleet.dispatch.conftest import CN_VN, VN_CN, make_fleet
from tests.fleet.dispatch.test_cleared import _at_its_gate


def unreleased_alarms(fleet) -> list:
    return [a for a in fleet.dispatcher.alarms.list(open_only=True)[0] if a.kind == AlarmKind.UNRELEASED_CROSSING]


def crossings_of(fleet, vehicle_id: str) -> list[dict]:
    return [r.body for r in fleet.store.audit_records(kinds=[AuditKind.CROSSING]) if r.body["vehicle_id"] == vehicle_id]


def moved_by_hand(customs, corridor, x: float, y: float):
    """Two vehicles, agv_001 parked in VN and agv_002 in CN, nothing said yet; then agv_001 moved to (x, y)."""
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    fleet.run(5)
    assert unreleased_alarms(fleet) == []
    fleet.link.move_by_hand("agv_001", x, y)
    fleet.run(2)
    return fleet


def stopped_and_flagged_across(fleet, across: bool):
    """agv_001 was found over (or on) the line VN->CN unreleased: one alarm, an emergency stop, out of service;
    its record."""
    alarms = unreleased_alarms(fleet)
    assert [a.subject for a in alarms] == ["agv_001"], alarms
    assert alarms[0].detail["direction"] == VN_CN and alarms[0].detail["across"] is across
    state = fleet.link.state("agv_001")
    assert state is not None and state.e_stop != EStop.NONE
    record = next(r for r in fleet.dispatcher.registry.all() if r.id == "agv_001")
    assert not record.in_service
    return record


@pytest.mark.parametrize(("y", "across"), [(300.0, True), (154.5, False)], ids=["across", "on-the-line"])
def test_a_vehicle_driven_across_without_a_release_is_stopped_and_flagged(customs, corridor, y, across):
    fleet = moved_by_hand(customs, corridor, 9.0, y)  # onto the VN->CN lane of the bridge, past its parking spot
    record = stopped_and_flagged_across(fleet, across)
    assert "no crossing released" in (record.service_reason or "")
    crossings = crossings_of(fleet, "agv_001")
    assert crossings == ([{"vehicle_id": "agv_001", "direction": VN_CN, "consignments": [],
                           "decision_audit_seq": None, "at": crossings[0]["at"], "released": False}]
                         if across else [])
    fleet.run(10)
    assert len(unreleased_alarms(fleet)) == 1 and len(crossings_of(fleet, "agv_001")) == len(crossings)  # once


def test_the_watch_follows_the_vehicles_own_base(corridor):
    """The rule alone: across is fine while the base it reported last took it onto the line or across; a
    release taken back (its base ends short again) is no release; the first sighting judges nothing."""
    vn_side, line, cn_side = (9.0, 100.0), (9.0, 154.5), (9.0, 300.0)
    across_base = ["vn_deck_out_1", "border_northbound", "cn_deck_in_1"]

    watch = BorderWatch()
    assert sighting(watch, corridor, *cn_side, [], "cn_deck_in_1") is None and watch.side == "CN"  # not judged
    watch = BorderWatch()
    assert sighting(watch, corridor, *vn_side, across_base) is None
    assert sighting(watch, corridor, *line, across_base[1:]) is None
    assert sighting(watch, corridor, *cn_side, across_base[2:]) is None and watch.side == "CN"
    assert not watch.may_cross  # used: crossing back needs a release of its own
    back = sighting(watch, corridor, *vn_side, [])
    assert back is not None and back.direction == CN_VN and back.across

    watch = BorderWatch()
    assert sighting(watch, corridor, *vn_side, across_base) is None
    assert sighting(watch, corridor, *vn_side, [], "vn_deck_out_1") is None  # the release taken back
    onto = sighting(watch, corridor, *line, [])
    assert onto is not None and not onto.across
    assert sighting(watch, corridor, *line, []) is None  # said once


@pytest.mark.parametrize(("x", "y"), [(60.0, 300.0), (20.0, 160.0), (3000.0, 5000.0)],
                         ids=["beside-the-cn-deck", "off-the-deck-past-the-line", "far-into-cn"])
def test_a_vehicle_across_but_off_every_zone_is_stopped_and_flagged(customs, corridor, x, y):
    """Found by trying it: a position off every zone of the map was never judged (the zones decided the side, and
    none held it), so a vehicle physically over the line beside the mapped corridor crossed unseen. Off every
    zone, the side is the nearest zone's."""
    fleet = moved_by_hand(customs, corridor, x, y)
    stopped_and_flagged_across(fleet, across=True)
    assert [c["released"] for c in crossings_of(fleet, "agv_001")] == [False]


def off_the_map_alarms(fleet) -> list:
    return [a for a in fleet.dispatcher.alarms.list(open_only=True)[0] if a.kind == AlarmKind.VEHICLE_OFF_THE_MAP]


@pytest.mark.parametrize(("x", "y"), [(60.0, -1000.0), (-40000.0, -90000.0)], ids=["beside-the-approach", "far-away"])
def test_a_vehicle_off_every_zone_on_its_own_side_is_stopped_short(customs, corridor, x, y):
    """Off the mapped corridor, even on its own side, the fleet cannot vouch for where the vehicle goes next (its
    next report may be over the line): it is stopped and taken out of service, the alarm says where it is."""
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    fleet.run(5)
    fleet.link.move_by_hand("agv_001", x, y)
    fleet.run(2)
    assert unreleased_alarms(fleet) == [] and crossings_of(fleet, "agv_001") == []
    alarms = off_the_map_alarms(fleet)
    assert [a.subject for a in alarms] == ["agv_001"], alarms
    assert alarms[0].detail["side"] == "VN"
    state = fleet.link.state("agv_001")
    assert state is not None and state.e_stop != EStop.NONE
    record = next(r for r in fleet.dispatcher.registry.all() if r.id == "agv_001")
    assert not record.in_service and "off the map" in (record.service_reason or "")
    fleet.run(10)
    assert len(off_the_map_alarms(fleet)) == 1  # said once


def test_a_position_just_off_the_zones_is_judged_by_the_nearest_zone(corridor):
    """Within a few metres of a zone (a vehicle parked at a bay on the map's edge, the millimetre gaps between
    zones) the side is the nearest zone's and nothing is raised; far off the zones is off the map."""
    watch = BorderWatch()
    assert sighting(watch, corridor, 16.0, 100.0, [], "vn_deck_out_1") is None and watch.side == "VN"
    assert sighting(watch, corridor, 16.0, 200.0, []) is not None  # across, off the deck
    watch = BorderWatch()
    assert sighting(watch, corridor, 16.0, 100.0, [], "vn_deck_out_1") is None
    off = sighting(watch, corridor, 40.0, 100.0, [])
    assert isinstance(off, OffTheMap) and off.side == "VN"
    assert sighting(watch, corridor, 41.0, 100.0, []) is None  # said once


def test_a_position_that_is_no_number_is_off_the_map(corridor):
    watch = BorderWatch()
    assert sighting(watch, corridor, 9.0, 100.0, [], "vn_deck_out_1") is None
    off = sighting(watch, corridor, float("nan"), 100.0, [])
    assert isinstance(off, OffTheMap) and off.side is None
    assert sighting(watch, corridor, 9.0, float("inf"), []) is None  # said once
    assert sighting(watch, corridor, 9.0, 100.0, [], "vn_deck_out_1") is None and not watch.off_map  # back


@pytest.mark.parametrize("folder", ["maps/bac_luan_ii", "maps/kim_thanh"])
def test_no_lane_of_a_shipped_map_runs_off_the_map(folder):
    """A vehicle on its lanes, or a metre beside them, is never taken as off the map (it would be stopped)."""
    corridor = load_corridor(folder)
    on_the_map = shapely.union_all([zone.polygon for zone in corridor.zones.values()]).buffer(OFF_THE_MAP_M)
    assert [lane.id for lane in corridor.lanes.values() if not on_the_map.contains(lane.geometry.buffer(1.0))] == []


def test_a_release_taken_and_driven_across_between_two_sightings_is_no_unreleased_crossing(corridor):
    """The loop sees each vehicle's latest state once a tick: a vehicle last seen short of the crossing (its base
    ending before the bridge), released across and already over the line by the next look, reports its base
    going on across. Found live (4 AGVs at 12x on a loaded machine, ticks of 2 s, 2026-12-05): agv_002, released
    across on decision 1414 and its crossing recorded in the same tick, was stopped on the bridge by an emergency
    stop, taken out of service and reported to both customs as an unreleased crossing."""
    vn_side, cn_side = (9.0, 100.0), (9.0, 300.0)
    watch = BorderWatch()
    assert sighting(watch, corridor, *vn_side, ["vn_deck_out_1"]) is None  # the crossing not released yet
    assert sighting(watch, corridor, *cn_side, ["cn_deck_in_1", "cn_deck_in_0"]) is None and watch.side == "CN"
    assert not watch.may_cross  # used: crossing back needs a release of its own
    back = sighting(watch, corridor, *vn_side, ["cn_deck_in_0"])  # driven back past a base that stays across
    assert back is not None and back.direction == CN_VN and back.across


def past_base_alarms(fleet) -> list:
    return [a for a in fleet.dispatcher.alarms.list(open_only=True)[0] if a.kind == AlarmKind.VEHICLE_PAST_ITS_BASE]


def test_a_vehicle_held_at_its_gate_that_drives_on_over_the_deck_is_stopped_short_of_the_line(customs, corridor):
    """Found by trying it: a loaded vehicle waiting at its gate for China's clearance (its released base ends
    there) that drives on (a vendor's vehicle that ignores its base) was not seen until it reported a position on
    the border line, two metres from it at best: too late to stop it short. It is stopped at its first report on
    the deck, before the line: an emergency stop, out of service, an alarm; no crossing is recorded."""
    fleet, _order, _seen = _at_its_gate(customs, corridor, "VN-100000000931")
    gate = fleet.link.state("agv_001").last_node_id
    stopped_at = None
    for y in range(-20, 155, 2):  # 2 m a report: 4 m/s at two reports a second
        fleet.link.move_by_hand("agv_001", 9.0, float(y))
        fleet.run(0.5)
        if fleet.link.state("agv_001").e_stop != EStop.NONE:
            stopped_at = y
            break
    assert stopped_at is not None and stopped_at <= 2, stopped_at  # at the deck's start (y = 0), 150 m short
    alarms = past_base_alarms(fleet)
    assert [a.subject for a in alarms] == ["agv_001"], alarms
    assert alarms[0].detail["side"] == "VN" and alarms[0].detail["last_node"] == gate
    record = next(r for r in fleet.dispatcher.registry.all() if r.id == "agv_001")
    assert not record.in_service and "past its released base" in (record.service_reason or "")
    assert unreleased_alarms(fleet) == [] and crossings_of(fleet, "agv_001") == []
    fleet.run(10)
    assert len(past_base_alarms(fleet)) == 1  # said once


def test_a_parked_vehicle_moved_onto_the_deck_short_of_the_line_is_stopped(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    fleet.run(5)
    fleet.link.move_by_hand("agv_001", 9.0, 140.0)  # 14.5 m short of the line
    fleet.run(1)
    assert [a.subject for a in past_base_alarms(fleet)] == ["agv_001"]
    assert fleet.link.state("agv_001").e_stop != EStop.NONE
    assert unreleased_alarms(fleet) == []


@pytest.mark.parametrize(("x", "y", "released", "last_node"), [
    (9.0, 60.0, ["vn_deck_out_1"], "vn_deck_out_0"),  # between two released nodes
    (9.0, 131.5, [], "vn_deck_out_1"),  # braked 2 m past its last node, the last before the crossing
    (9.0, 150.0, ["border_northbound", "cn_deck_in_1"], "vn_deck_out_1"),  # released across
    (-9.0, 150.0, ["vn_deck_in_1", "vn_deck_in_0"], "border_southbound"),  # just over, leaving the deck
    (-9.0, 100.0, ["vn_deck_in_0"], "vn_deck_in_1"),  # on its way off the deck
    (0.0, 140.0, ["vn_deck_in_1"], "handoff"),  # relay: back from the pad
    (9.0, -100.0, [], "vn_gate_out_1"),  # on the approach, past its gate: not by the line yet
], ids=["between-nodes", "braked-past", "released-across", "just-over", "leaving", "from-the-pad", "approach"])
def test_a_vehicle_within_its_way_by_the_line_is_left_alone(corridor, x, y, released, last_node):
    watch = BorderWatch()
    assert sighting(watch, corridor, x, y, released, last_node) is None
    assert not watch.past_base


def test_a_vehicle_past_its_base_towards_the_line_is_said_once_until_back_within_it(corridor):
    watch = BorderWatch()
    assert sighting(watch, corridor, 9.0, 129.5, [], "vn_deck_out_1") is None
    past = sighting(watch, corridor, 9.0, 129.5 + PAST_ITS_BASE_M + 0.5, [], "vn_deck_out_1")
    assert isinstance(past, PastItsBase) and past.side == "VN" and past.base_to_line_m == pytest.approx(25.0, abs=0.01)
    assert sighting(watch, corridor, 9.0, 140.0, [], "vn_deck_out_1") is None  # said once
    assert sighting(watch, corridor, 9.0, 129.5, [], "vn_deck_out_1") is None and not watch.past_base  # back
    assert isinstance(sighting(watch, corridor, 9.0, 140.0, [], "vn_deck_out_1"), PastItsBase)
    watch = BorderWatch()  # a vehicle with no base on the map: any position by the line is past it
    assert isinstance(sighting(watch, corridor, 9.0, 50.0, [], ""), PastItsBase)
    onto = BorderWatch()  # the last node before the crossing, then on the line unreleased: the crossing's finding
    assert sighting(onto, corridor, 9.0, 129.5, [], "vn_deck_out_1") is None
    assert isinstance(sighting(onto, corridor, 9.0, 154.0, [], "vn_deck_out_1"), UnreleasedCrossing)


@pytest.mark.parametrize("folder", ["maps/bac_luan_ii", "maps/kim_thanh"])
def test_the_line_is_watched_from_the_decks_of_the_shipped_maps(folder):
    """By the line means the zones touching it (the two decks), not the approaches or the yards; a vehicle at the
    last node before a crossing is a few reports at full speed from the line."""
    corridor = load_corridor(folder)
    by_the_line = {n.zone for n in corridor.nodes.values() if corridor.by_the_line(n.x, n.y)}
    assert by_the_line == {"vn_bridge", "cn_bridge"}
    last_before = [corridor.nodes[lane.source] for lane in corridor.crossing_lanes
                   if corridor.nodes[lane.source].kind not in BORDER_LINE_KINDS]
    assert last_before and all(corridor.to_the_line_m(n.x, n.y) >= 20.0 for n in last_before)


def test_a_vehicle_that_does_not_know_where_it_is_is_judged_only_driving_by_the_line(corridor):
    """``positionInitialized`` false: standing (a vehicle starting up), or driving far from the line, nothing; driving
    when last seen on a deck, or on a way onto one, it may be anywhere up to the line: off the map (said once)."""
    parked = corridor.nodes["vn_parking_1"]
    watch = BorderWatch()
    assert sighting(watch, corridor, parked.x, parked.y, [], parked.id) is None
    assert unplaced(watch, corridor, False, [], parked.id) is None
    assert unplaced(watch, corridor, True, ["vn_app_out_0"], parked.id) is None  # far from the line
    assert isinstance(unplaced(watch, corridor, True, ["vn_deck_out_0", "vn_deck_out_1"], "vn_app_out_3"),
                      OffTheMap)  # on a way onto the deck
    watch = BorderWatch()
    assert sighting(watch, corridor, 9.0, 129.5, [], "vn_deck_out_1") is None
    assert unplaced(watch, corridor, False, [], "vn_deck_out_1") is None  # standing
    lost = unplaced(watch, corridor, True, [], "vn_deck_out_1")
    assert isinstance(lost, OffTheMap) and lost.side is None
    assert unplaced(watch, corridor, True, [], "vn_deck_out_1") is None  # said once
