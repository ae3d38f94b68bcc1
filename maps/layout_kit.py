"""The drawing kit the corridor layouts share (maps/<corridor>/layout.py): one country's side (approach,
customs control station, inspection yard, holding bay, yard with docks, parking and chargers), the border
crossing on the deck, and the projection to WGS84.

A side is drawn in a 'side frame' whose bridge end is (0, 0), whose hinterland lies towards -y and whose
outbound lane is at +x; ``SideSpec.to_global`` places it in the corridor's local frame (x east, y north,
metres). Nothing here is a fact about any corridor: the facts and the layout choices live in each
corridor's layout.py and README.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

# --- plausible AGV layout defaults -------------------------------------------------------------
STOP_BEFORE_BORDER = 25.0  # m: the last node before the crossing lanes
YARD_KMH, GATE_KMH, ROAD_KMH, BAY_KMH = 10.0, 5.0, 25.0, 5.0
APPROACH_NODE_SPACING = 500.0  # m

Transform = Callable[[float, float], tuple[float, float]]


@dataclass(frozen=True)
class SideSpec:
    """One country's side of the corridor, drawn in a 'side frame' whose bridge end is (0, 0), whose
    hinterland lies towards -y and whose outbound (towards the bridge) lane is at +x."""

    prefix: str
    jurisdiction: str
    label: str
    approach_length: float
    border_distance: float  # along the deck from this side's bridge end to the border line
    parking_rows: int
    parking_columns: int
    chargers: int
    docks: int
    inspection_bays: int
    holding_slots: int
    single_lane_inspection: bool  # inspection bays reached by one two-way lane (a lane group)
    to_global: Transform
    bridge_width: float  # m, the deck
    lane_offset: float  # m from the deck's centre line to each AGV lane


@dataclass
class Builder:
    features: list[dict] = field(default_factory=list)

    def zone(self, zid: str, kind: str, jurisdiction: str, name: str, corners: list[tuple[float, float]]) -> None:
        ring = [list(c) for c in corners] + [list(corners[0])]
        self.features.append(_feature("Polygon", [ring], id=zid, kind=kind, jurisdiction=jurisdiction, name=name))

    def node(self, nid: str, kind: str, zone: str, jurisdiction: str, xy: tuple[float, float], name: str = "") -> str:
        props = dict(id=nid, kind=kind, zone=zone, jurisdiction=jurisdiction)
        if name:
            props["name"] = name
        self.features.append(_feature("Point", list(xy), **props))
        self._xy[nid] = xy
        return nid

    def lane(self, source: str, target: str, kmh: float, crossing: bool = False,
             bidirectional: bool = False, lane_group: str | None = None) -> None:
        props: dict = {"id": f"{source}__{target}", "from": source, "to": target, "max_speed": kmh}
        if crossing:
            props["crossing"] = True
        if bidirectional:
            props["bidirectional"] = True
        if lane_group:
            props["lane_group"] = lane_group
        coords = [list(self._xy[source]), list(self._xy[target])]
        self.features.append(_feature("LineString", coords, **props))

    def chain(self, ids: list[str], kmh: float) -> None:
        for a, b in itertools.pairwise(ids):
            self.lane(a, b, kmh)

    def __post_init__(self) -> None:
        self._xy: dict[str, tuple[float, float]] = {}


def _feature(geometry_type: str, coordinates: list, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": {"type": geometry_type, "coordinates": coordinates}}


def build_side(b: Builder, s: SideSpec) -> None:
    """Approach, customs control station (gates, holding bay, inspection), yard (docks, parking, chargers)."""
    p, j, g = s.prefix, s.jurisdiction, s.to_global

    def node(suffix: str, kind: str, zone: str, x: float, y: float, name: str = "") -> str:
        return b.node(f"{p}_{suffix}", kind, f"{p}_{zone}", j, g(x, y), name)

    def zone(suffix: str, kind: str, name: str, x0: float, x1: float, y0: float, y1: float) -> None:
        b.zone(f"{p}_{suffix}", kind, j, f"{s.label} {name}", [g(x0, y0), g(x1, y0), g(x1, y1), g(x0, y1)])

    half = s.bridge_width / 2
    L = s.approach_length
    zone("bridge", "bridge", "part of the bridge", -half, half, 0.0, s.border_distance)
    zone("approach", "approach", "approach road", -15, 15, -L, 0.0)
    zone("control", "customs_control", "inter-agency control station", -60, 60, -L - 300, -L)
    zone("holding", "holding", "holding bay", -110, -60, -L - 170, -L - 40)
    zone("inspection", "inspection", "inspection yard", 60, 170, -L - 300, -L - 170)
    zone("yard", "yard", "yard: docks, parking, chargers", -200, 200, -L - 800, -L - 300)

    # Deck: outbound lane at +x up to the last node before the crossing; inbound lane at -x.
    x = s.lane_offset
    stop = s.border_distance - STOP_BEFORE_BORDER
    deck_out = [node("deck_out_0", "waypoint", "bridge", x, 0.0), node("deck_out_1", "waypoint", "bridge", x, stop,
                                                                        "last stop before the border")]
    deck_in = [node("deck_in_1", "waypoint", "bridge", -x, stop), node("deck_in_0", "waypoint", "bridge", -x, 0.0)]
    b.chain(deck_out, ROAD_KMH)
    b.chain(deck_in, ROAD_KMH)

    # Approach road, a node every ~500 m each way.
    count = max(1, math.ceil(L / APPROACH_NODE_SPACING))
    ys = [-L + L * k / count for k in range(count)]
    app_out = [node(f"app_out_{k}", "waypoint", "approach", x, y) for k, y in enumerate(ys)]
    app_in = [node(f"app_in_{k}", "waypoint", "approach", -x, y) for k, y in enumerate(ys)][::-1]
    b.chain(app_out + [deck_out[0]], ROAD_KMH)
    b.chain([deck_in[-1]] + app_in, ROAD_KMH)

    # Control station. Outbound (east): pre-gate -> two gate lanes -> approach.
    out_entry = node("out_entry", "waypoint", "control", 30, -L - 290)
    out_pregate = node("out_pregate", "waypoint", "control", 30, -L - 200)
    out_post = node("out_post", "waypoint", "control", 20, -L - 60)
    # Inbound vehicles reach the inspection yard (east) across the outbound road (west of it): a junction
    # on that road, which the inspection links pass (issue 11: they crossed the outbound road and gate
    # lanes without a node, one of them 1.3 m from an outbound gate).
    junction = node("insp_junction", "waypoint", "control", 30, -L - 240, f"{s.label} inspection junction")
    b.chain([out_entry, junction, out_pregate], YARD_KMH)
    for k, gx in enumerate((22, 38), start=1):
        gate = node(f"gate_out_{k}", "gate", "control", gx, -L - 130, f"{s.label} outbound gate {k}")
        b.lane(out_pregate, gate, GATE_KMH)
        b.lane(gate, out_post, GATE_KMH)
    b.lane(out_post, app_out[0], YARD_KMH)
    # Inbound (west): approach -> holding bay or pre-gate -> two gate lanes -> yard.
    in_arrival = node("in_arrival", "waypoint", "control", -20, -L - 60)
    in_pregate = node("in_pregate", "waypoint", "control", -30, -L - 130)
    in_post = node("in_post", "waypoint", "control", -30, -L - 230)
    in_exit = node("in_exit", "waypoint", "control", -30, -L - 290)
    b.lane(app_in[-1], in_arrival, YARD_KMH)
    b.lane(in_arrival, in_pregate, YARD_KMH)
    for k, gx in enumerate((-22, -38), start=1):
        gate = node(f"gate_in_{k}", "gate", "control", gx, -L - 170, f"{s.label} inbound gate {k}")
        b.lane(in_pregate, gate, GATE_KMH)
        b.lane(gate, in_post, GATE_KMH)
    b.lane(in_post, in_exit, YARD_KMH)
    # The slots stand in one row between the arrival (above) and the pre-gate (below), so the lanes in
    # and the lanes out never cross (they did when the slots stood in a column: issue 11).
    for k in range(1, s.holding_slots + 1):
        slot = node(f"hold_{k}", "holding", "holding", -54 - 12 * k, -L - 95, f"{s.label} holding bay slot {k}")
        b.lane(in_arrival, slot, BAY_KMH)
        b.lane(slot, in_pregate, BAY_KMH)

    # Inspection yard (yellow/red channel), reachable before the gates in both directions.
    bays_x = [80 + 80 * k / max(1, s.inspection_bays - 1) for k in range(s.inspection_bays)]
    if s.single_lane_inspection:
        access = node("insp_access", "waypoint", "control", 55, -L - 200)
        hub = node("insp_hub", "waypoint", "inspection", 75, -L - 200)
        b.lane(access, hub, YARD_KMH, bidirectional=True, lane_group=f"{p}_inspection_access")
        for k, bx in enumerate(bays_x, start=1):
            bay = node(f"insp_{k}", "inspection", "inspection", bx + 10, -L - 260, f"{s.label} inspection bay {k}")
            b.lane(hub, bay, BAY_KMH, bidirectional=True)
        b.lane(out_entry, access, YARD_KMH)
        b.lane(access, out_pregate, YARD_KMH)
        b.chain([in_pregate, junction, access, junction, in_pregate], YARD_KMH)
    else:
        insp_in = node("insp_in", "waypoint", "inspection", 70, -L - 290)
        insp_out = node("insp_out", "waypoint", "inspection", 165, -L - 180)
        for k, bx in enumerate(bays_x, start=1):
            bay = node(f"insp_{k}", "inspection", "inspection", bx, -L - 250, f"{s.label} inspection bay {k}")
            b.lane(insp_in, bay, BAY_KMH)
            b.lane(bay, insp_out, BAY_KMH)
        b.lane(out_entry, insp_in, YARD_KMH)
        b.lane(insp_out, out_pregate, YARD_KMH)
        b.lane(in_pregate, junction, YARD_KMH)
        b.lane(junction, insp_in, YARD_KMH)
        b.lane(insp_out, junction, YARD_KMH)
        b.lane(junction, in_pregate, YARD_KMH)

    _build_yard(s, node, b, out_entry, in_exit)


def _build_yard(s: SideSpec, node, b: Builder, out_entry: str, in_exit: str) -> None:
    """A one-way ring road; drive-through docks on its far side; parking rows between eastbound aisles."""
    L = s.approach_length
    top, bottom, west, east = -L - 320, -L - 720, -180.0, 180.0
    aisle_ys = [top - 50 - 45 * r for r in range(s.parking_rows + 1)]
    columns = [-105 + 210 * c / max(1, s.parking_columns - 1) for c in range(s.parking_columns)]
    dock_xs = [-160 + 320 * k / s.docks for k in range(s.docks + 1)]

    def ring(name: str, x: float, y: float) -> str:
        return node(f"ring_{name}", "waypoint", "yard", x, y)

    north = [ring("ne", east, top), ring("n_exit", 30, top), ring("n_entry", -30, top), ring("nw", west, top)]
    west_side = [north[-1]] + [ring(f"w_{r}", west, y) for r, y in enumerate(aisle_ys)] + [ring("sw", west, bottom)]
    south = [west_side[-1]] + [ring(f"s_{k}", x, bottom) for k, x in enumerate(dock_xs)] + [ring("se", east, bottom)]
    east_side = [south[-1]] + [ring(f"e_{r}", east, y) for r, y in reversed(list(enumerate(aisle_ys)))] + [north[0]]
    for side in (north, west_side, south, east_side):
        b.chain(side, YARD_KMH)
    b.lane(in_exit, north[2], YARD_KMH)
    b.lane(north[1], out_entry, YARD_KMH)

    for k in range(s.docks):
        x = (dock_xs[k] + dock_xs[k + 1]) / 2
        dock = node(f"dock_{k + 1}", "dock", "yard", x, bottom - 45, f"{s.label} dock {k + 1}")
        b.lane(south[k + 1], dock, BAY_KMH)
        b.lane(dock, south[k + 2], BAY_KMH)

    aisles = [[node(f"aisle_{r}_{c}", "waypoint", "yard", x, y) for c, x in enumerate(columns)]
              for r, y in enumerate(aisle_ys)]
    for r, aisle in enumerate(aisles):
        b.chain([west_side[r + 1]] + aisle + [east_side[-2 - r]], YARD_KMH)
    slot = 0
    for r in range(s.parking_rows):
        for c, x in enumerate(columns):
            slot += 1
            charger = slot <= s.chargers
            kind, label = ("charger", "charger") if charger else ("parking", "parking")
            number = slot if charger else slot - s.chargers
            spot = node(f"{label}_{number}", kind, "yard", x, (aisle_ys[r] + aisle_ys[r + 1]) / 2)
            b.lane(aisles[r][c], spot, BAY_KMH)
            b.lane(spot, aisles[r + 1][c], BAY_KMH)


def build_crossing(b: Builder, first: SideSpec, second: SideSpec, border_ids: tuple[str, str]) -> None:
    """The border line on the deck: a border node on each AGV lane (ids ``border_ids``: first side's
    outbound lane, then inbound) and the relay handoff pad between them, reached from both sides."""
    x, y, g = first.lane_offset, first.border_distance, first.to_global
    zone, j = f"{first.prefix}_bridge", first.jurisdiction  # by convention: the first side's bridge zone
    a, c = first.jurisdiction, second.jurisdiction
    border_out = b.node(border_ids[0], "border", zone, j, g(x, y), f"border line, {a}->{c} lane")
    border_in = b.node(border_ids[1], "border", zone, j, g(-x, y), f"border line, {c}->{a} lane")
    handoff = b.node("handoff", "handoff", zone, j, g(0.0, y), "relay handoff pad on the border line")
    p, q = first.prefix, second.prefix
    out1, in1, out2, in2 = (f"{p}_deck_out_1", f"{p}_deck_in_1", f"{q}_deck_out_1", f"{q}_deck_in_1")
    for start, mid, end in ((out1, border_out, in2), (out2, border_in, in1), (out1, handoff, in1),
                            (out2, handoff, in2)):
        b.lane(start, mid, ROAD_KMH if mid != handoff else GATE_KMH, crossing=True)
        b.lane(mid, end, ROAD_KMH if mid != handoff else GATE_KMH, crossing=True)


def to_wgs84(collection: dict, origin: dict) -> dict:
    """Project every coordinate from the local frame to WGS84 (lon, lat), rounded to ~1 mm."""
    from planner.corridor import Origin, local_to_wgs84

    project = local_to_wgs84(Origin(origin["lat"], origin["lon"]))

    def point(xy: list[float]) -> list[float]:
        lon, lat = project(xy[0], xy[1])
        return [round(lon, 8), round(lat, 8)]

    for feature in collection["features"]:
        geometry = feature["geometry"]
        coords = geometry["coordinates"]
        if geometry["type"] == "Point":
            geometry["coordinates"] = point(coords)
        elif geometry["type"] == "LineString":
            geometry["coordinates"] = [point(c) for c in coords]
        else:
            geometry["coordinates"] = [[point(c) for c in ring] for ring in coords]
    return collection


