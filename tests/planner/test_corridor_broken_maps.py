"""Broken corridor maps are refused, each with a message naming the offending feature."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from planner.corridor import MapError, Origin, corridor_from_geojson, local_to_wgs84


def feature(collection: dict, fid: str) -> dict:
    return next(f for f in collection["features"] if f["properties"]["id"] == fid)


def lane_into(collection: dict, node: str) -> list[dict]:
    return [f for f in collection["features"] if f["properties"].get("to") == node]


def to_wgs84(config: dict, x: float, y: float) -> list[float]:
    return list(local_to_wgs84(Origin(**config["origin"]))(x, y))


def refusal(collection: dict, config: dict) -> MapError:
    with pytest.raises(MapError) as caught:
        corridor_from_geojson(collection, config)
    return caught.value


def _dangling_lane(c: dict, _: dict) -> None:
    feature(c, "vn_ring_s_0__vn_dock_1")["properties"]["to"] = "vn_dock_99"


def _unreachable_dock(c: dict, _: dict) -> None:
    c["features"].remove(feature(c, "vn_ring_s_2__vn_dock_3"))


def _dead_end_dock(c: dict, _: dict) -> None:
    c["features"].remove(feature(c, "cn_dock_5__cn_ring_s_5"))


def _gate_bypass(c: dict, config: dict) -> None:
    """A lane around the outbound gates (drawn clear of them: one brushing past a gate is refused for that)."""
    c["features"].append({"type": "Feature", "properties": {
        "id": "shortcut", "from": "vn_out_pregate", "to": "vn_out_post", "max_speed": 10},
        "geometry": {"type": "LineString",
                     "coordinates": [feature(c, "vn_out_pregate")["geometry"]["coordinates"],
                                     to_wgs84(config, 0.0, -2130.0),
                                     feature(c, "vn_out_post")["geometry"]["coordinates"]]}})


def _crossing_bypass(c: dict, config: dict) -> None:
    """A lane from the VN approach to the CN approach that swings wide of the bridge and its border line."""
    points = [(9.0, -2000.0), (600.0, -2000.0), (600.0, 2418.0), (9.0, 2418.0)]
    c["features"].append({"type": "Feature", "properties": {
        "id": "ford", "from": "vn_app_out_0", "to": "cn_app_in_0", "max_speed": 25},
        "geometry": {"type": "LineString", "coordinates": [to_wgs84(config, x, y) for x, y in points]}})


def _geometry_off_its_node(c: dict, config: dict) -> None:
    feature(c, "vn_deck_out_0__vn_deck_out_1")["geometry"]["coordinates"][-1] = to_wgs84(config, 9.0, 80.0)


def _duplicate_id(c: dict, _: dict) -> None:
    twin = feature(c, "cn_gate_in_1")
    c["features"].append({**twin, "properties": {**twin["properties"]}})


def _unknown_kind(c: dict, _: dict) -> None:
    feature(c, "vn_charger_3")["properties"]["kind"] = "helipad"


def _unmarked_crossing(c: dict, _: dict) -> None:
    del feature(c, "border_northbound__cn_deck_in_1")["properties"]["crossing"]


def _false_crossing(c: dict, _: dict) -> None:
    feature(c, "vn_deck_out_0__vn_deck_out_1")["properties"]["crossing"] = True


def _wrong_jurisdiction(c: dict, _: dict) -> None:
    feature(c, "vn_dock_2")["properties"]["jurisdiction"] = "CN"


def _unknown_zone(c: dict, _: dict) -> None:
    feature(c, "cn_hold_2")["properties"]["zone"] = "cn_parking_lot"


def _speed_in_wrong_units(c: dict, _: dict) -> None:
    feature(c, "vn_app_out_1__vn_app_out_2")["properties"]["max_speed"] = 250


def _border_node_off_the_line(c: dict, config: dict) -> None:
    feature(c, "handoff")["geometry"]["coordinates"] = to_wgs84(config, 0.0, 120.0)


def _second_lane_against_a_two_way_lane(c: dict, _: dict) -> None:
    two_way = feature(c, "cn_insp_access__cn_insp_hub")
    coordinates = two_way["geometry"]["coordinates"][::-1]
    c["features"].append({"type": "Feature", "properties": {
        "id": "extra", "from": "cn_insp_hub", "to": "cn_insp_access", "max_speed": 10},
        "geometry": {"type": "LineString", "coordinates": coordinates}})


def _relay_without_handoff(c: dict, config: dict) -> None:
    config["parameters"]["handoff_mode"] = "relay"
    c["features"] = [f for f in c["features"] if "handoff" not in (f["properties"]["id"], f["properties"].get("from"),
                                                                    f["properties"].get("to"))]


def _lane_brushing_a_gate(c: dict, config: dict) -> None:
    """Issue 11: the VN inspection exit lane used to run straight to the inbound pre-gate, 1.3 m past
    outbound gate 1."""
    lane = feature(c, "vn_insp_out__vn_insp_junction")
    lane["geometry"]["coordinates"][-1:] = [to_wgs84(config, -30.0, -2110.0), to_wgs84(config, -30.0, -2130.0)]
    lane["properties"]["to"] = "vn_in_pregate"
    lane["properties"]["id"] = "vn_insp_out__vn_in_pregate"


def _gate_drawn_as_waypoint(c: dict, _: dict) -> None:
    feature(c, "vn_gate_out_2")["properties"]["kind"] = "waypoint"


def _misspelt_units(_: dict, config: dict) -> None:
    config["unit"] = config.pop("units")


def _misspelt_parameters(_: dict, config: dict) -> None:
    config["paramaters"] = config.pop("parameters")


def _misspelt_parameter(_: dict, config: dict) -> None:
    config["parameters"]["agv_lenght_m"] = config["parameters"].pop("agv_length_m")


def _value_with_its_unit(_: dict, config: dict) -> None:
    config["parameters"]["min_headway_s"] = "2.5 s"


def _lengths_in_feet(_: dict, config: dict) -> None:
    config["units"]["length"] = "ft"


def _swapped_lat_lon(c: dict, _: dict) -> None:
    _map_coordinates(c, lambda lon, lat: [lat, lon])


def _local_metres(c: dict, config: dict) -> None:
    project = Transformer.from_crs("EPSG:4326", f"+proj=aeqd +lat_0={config['origin']['lat']} "
                                                f"+lon_0={config['origin']['lon']} +datum=WGS84 +units=m",
                                   always_xy=True).transform
    _map_coordinates(c, lambda lon, lat: list(project(lon, lat)))


def _map_coordinates(c: dict, change: Callable[[float, float], list[float]]) -> None:
    for f in c["features"]:
        geometry = f["geometry"]
        if geometry["type"] == "Point":
            geometry["coordinates"] = change(*geometry["coordinates"])
        elif geometry["type"] == "LineString":
            geometry["coordinates"] = [change(*p) for p in geometry["coordinates"]]
        else:
            geometry["coordinates"] = [[change(*p) for p in ring] for ring in geometry["coordinates"]]


def _zone_over_the_other_sides_yard(c: dict, config: dict) -> None:
    """A CN zone drawn over part of the VN yard, far from the bridge: every point there on both sides."""
    corners = [(-300.0, -2500.0), (0.0, -2500.0), (0.0, -2300.0), (-300.0, -2300.0), (-300.0, -2500.0)]
    ring = [to_wgs84(config, x, y) for x, y in corners]
    c["features"].append({"type": "Feature", "properties": {"id": "cn_stray", "kind": "yard", "jurisdiction": "CN"},
                          "geometry": {"type": "Polygon", "coordinates": [ring]}})


def _decks_overlapping(c: dict, config: dict) -> None:
    """The CN deck drawn 20 m too far south, over the VN deck."""
    ring = feature(c, "cn_bridge")["geometry"]["coordinates"][0]
    south = min(lat for _, lat in ring)
    moved = to_wgs84(config, 0.0, 134.5)[1]
    feature(c, "cn_bridge")["geometry"]["coordinates"] = [[[lon, moved if lat == south else lat] for lon, lat in ring]]


def _parking_on_the_line(c: dict, _: dict) -> None:
    feature(c, "border_northbound")["properties"]["kind"] = "parking"


BROKEN: dict[str, tuple[Callable[[dict, dict], None], str, str]] = {
    # name: (how to break it, the feature the message must name, what the message must say)
    "dangling lane": (_dangling_lane, "vn_ring_s_0__vn_dock_1", "dangling lane: its 'to' node 'vn_dock_99'"),
    "unreachable dock": (_unreachable_dock, "vn_dock_3", "unreachable dock"),
    "dead-end dock": (_dead_end_dock, "cn_dock_5", "dead-end dock"),
    "route avoiding a gate": (_gate_bypass, "shortcut", "route VN->CN avoids every VN gate"),
    "route avoiding the crossing": (_crossing_bypass, "ford", "route VN->CN avoids the crossing lanes"),
    "geometry not joining its nodes": (_geometry_off_its_node, "vn_deck_out_0__vn_deck_out_1",
                                       "geometry does not join its nodes: its end is 49.5 m from node 'vn_deck_out_1'"),
    "duplicate id": (_duplicate_id, "cn_gate_in_1", "duplicate id"),
    "unknown kind": (_unknown_kind, "vn_charger_3", "unknown node kind 'helipad'"),
    "unmarked crossing lane": (_unmarked_crossing, "border_northbound__cn_deck_in_1", "not marked crossing: true"),
    "crossing flag away from the border": (_false_crossing, "vn_deck_out_0__vn_deck_out_1",
                                           "does not reach the border line"),
    "node in the other side's zone": (_wrong_jurisdiction, "vn_dock_2", "jurisdiction CN differs from its zone"),
    "unknown zone": (_unknown_zone, "cn_hold_2", "zone 'cn_parking_lot' is not in the map"),
    "speed in the wrong units": (_speed_in_wrong_units, "vn_app_out_1__vn_app_out_2", "max_speed must be"),
    "handoff off the border line": (_border_node_off_the_line, "handoff", "must lie on the border line"),
    "two lanes with the same ends": (_second_lane_against_a_two_way_lane, "extra",
                                     "a second lane from 'cn_insp_hub' to 'cn_insp_access'"),
    "relay mode without handoff": (_relay_without_handoff, "corridor.yaml", "needs a handoff node"),
    # issue 11
    "lane brushing past a gate": (_lane_brushing_a_gate, "vn_insp_out__vn_in_pregate",
                                  "passes 1.3 m from node 'vn_gate_out_1' without joining it"),
    "gate drawn as a waypoint": (_gate_drawn_as_waypoint, "vn_gate_out_2",
                                 "same lanes in and out as gate 'vn_gate_out_1' lets route VN->CN avoid every VN gate"),
    "misspelt units": (_misspelt_units, "corridor.yaml", "unknown key 'unit' (did you mean 'units'?)"),
    "misspelt parameters": (_misspelt_parameters, "corridor.yaml",
                            "unknown key 'paramaters' (did you mean 'parameters'?)"),
    "misspelt parameter": (_misspelt_parameter, "corridor.yaml",
                           "unknown key 'parameters.agv_lenght_m' (did you mean 'parameters.agv_length_m'?)"),
    "value written with its unit": (_value_with_its_unit, "corridor.yaml",
                                    "parameters.min_headway_s: input should be a valid number, got '2.5 s'"),
    "lengths not in metres": (_lengths_in_feet, "corridor.yaml", "units.length: input should be 'm', got 'ft'"),
    "lat and lon swapped": (_swapped_lat_lon, "corridor.geojson", "look like (lat, lon) swapped"),
    "coordinates in local metres": (_local_metres, "corridor.geojson",
                                    "they look like local metres"),
    # a zone overlap of the two sides was accepted (away from the bridge), or refused as border nodes off the line
    "a zone over the other side's yard": (_zone_over_the_other_sides_yard, "cn_stray",
                                          "overlaps zone 'vn_yard' (VN) over"),
    "decks overlapping": (_decks_overlapping, "cn_bridge", "overlaps zone 'vn_bridge' (VN) over"),
    # was refused as "a lane marked crossing that does not reach the border line", the lane ending on it
    "parking on the border line": (_parking_on_the_line, "border_northbound",
                                   "a parking node on the border line: only border and handoff nodes may lie on it"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_map_is_refused_naming_the_feature(name, bac_luan_ii_raw):
    collection, config = bac_luan_ii_raw
    breaker, feature_id, message = BROKEN[name]
    breaker(collection, config)
    error = refusal(collection, config)
    matching = [p for p in error.problems if p.feature == feature_id and message in p.message]
    assert matching, f"expected '{feature_id}: ...{message}...' in:\n{error}"
    assert f"{feature_id}: " in str(error)


def test_a_side_without_docks_is_refused_not_a_traceback(bac_luan_ii_raw):
    """Issue 11: a side with parking but no dock passed, then the summary died in min() of nothing."""
    collection, config = bac_luan_ii_raw
    for f in collection["features"]:
        if f["properties"].get("kind") == "dock" and f["properties"]["jurisdiction"] == "CN":
            f["properties"]["kind"] = "parking"
    assert "no dock on the CN side" in str(refusal(collection, config))


def test_only_one_problem_for_a_map_in_the_wrong_coordinates(bac_luan_ii_raw):
    collection, config = bac_luan_ii_raw
    _swapped_lat_lon(collection, config)
    assert len(refusal(collection, config).problems) == 1


def test_not_a_feature_collection_is_refused(bac_luan_ii_raw):
    _, config = bac_luan_ii_raw
    assert "FeatureCollection" in str(refusal({"type": "Feature"}, config))


def test_bad_origin_is_refused(bac_luan_ii_raw):
    collection, config = bac_luan_ii_raw
    config["origin"] = {"lat": 121.5, "lon": 107.9}
    assert "origin.lat: input should be less than or equal to 90, got 121.5" in str(refusal(collection, config))


# --- properties over the real map: any one broken feature is found and named ----------------------------------

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _lane_ids(collection: dict) -> list[str]:
    return [f["properties"]["id"] for f in collection["features"] if f["geometry"]["type"] == "LineString"]


@SETTINGS
@given(data=st.data())
def test_any_lane_pointed_at_a_missing_node_is_named(bac_luan_ii_raw, data):
    collection, config = bac_luan_ii_raw
    lane_id = data.draw(st.sampled_from(_lane_ids(collection)))
    end = data.draw(st.sampled_from(["from", "to"]))
    lane = feature(collection, lane_id)
    original = lane["properties"][end]
    lane["properties"][end] = "ghost"
    try:
        error = refusal(collection, config)
    finally:
        lane["properties"][end] = original
    assert [p.feature for p in error.problems] == [lane_id]


@SETTINGS
@given(data=st.data())
def test_any_crossing_flag_flipped_is_named(bac_luan_ii_raw, data):
    collection, config = bac_luan_ii_raw
    lane_id = data.draw(st.sampled_from(_lane_ids(collection)))
    props = feature(collection, lane_id)["properties"]
    was = props.get("crossing", False)
    props["crossing"] = not was
    try:
        error = refusal(collection, config)
    finally:
        props["crossing"] = was
    assert {p.feature for p in error.problems} == {lane_id}


@settings(max_examples=200, deadline=None)
@given(x=st.floats(-20_000, 20_000), y=st.floats(-20_000, 20_000),
       lat=st.floats(-60, 60), lon=st.floats(-179, 179))
def test_local_frame_round_trip_is_millimetre_exact(x, y, lat, lon):
    from pyproj import Transformer

    origin = Origin(lat, lon)
    lon_x, lat_y = local_to_wgs84(origin)(x, y)
    back = Transformer.from_crs("EPSG:4326", f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m",
                                always_xy=True).transform(lon_x, lat_y)
    assert back[0] == pytest.approx(x, abs=1e-3) and back[1] == pytest.approx(y, abs=1e-3)
