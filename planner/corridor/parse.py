"""Reading a corridor from its GeoJSON FeatureCollection and its YAML config (as parsed dicts).

Parsing checks each feature on its own (types, required properties, known kinds); the map as a whole
is then checked by :mod:`planner.corridor.validate`. Either refuses with :class:`MapError`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeGuard

import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Polygon, shape

from planner.corridor.config import CorridorConfig, OriginConfig, read_config
from planner.corridor.crossings import conflict_zones
from planner.corridor.errors import MapError, MapProblem
from planner.corridor.model import REVERSE_SUFFIX, Corridor, Lane, Node, NodeKind, Origin, Zone, build_graph
from planner.corridor.validate import border_line_of, validate_corridor

#: Fastest plausible AGV speed limit; anything above is a typo in units.
MAX_SPEED_LIMIT_MPS = 20.0


def corridor_from_geojson(collection: Mapping[str, Any], config: Mapping[str, Any]) -> Corridor:
    """Build and validate a :class:`Corridor`.

    Parameters
    ----------
    collection : the ``corridor.geojson`` FeatureCollection, coordinates in WGS84 (lon, lat).
    config : the ``corridor.yaml`` mapping, checked by :class:`planner.corridor.config.CorridorConfig`.

    Raises
    ------
    MapError
        naming every offending feature.
    """
    header = read_config(config)
    features = _features(collection)
    located = _coordinate_system(features, header.origin)
    if located:
        raise MapError([located])
    problems: list[MapProblem] = []
    nodes: dict[str, Node] = {}
    lanes: dict[str, Lane] = {}
    zones: dict[str, Zone] = {}

    ids = [fid for fid, _ in features if fid is not None]
    for repeated_id, count in Counter(ids).items():
        if count > 1:
            problems.append(MapProblem(repeated_id, f"duplicate id: {count} features share it", kind="duplicate id"))

    origin = Origin(header.origin.lat, header.origin.lon)
    to_local = wgs84_to_local(origin)
    for index, (fid, feature) in enumerate(features):
        label = fid or f"feature #{index}"
        if fid is None:
            problems.append(MapProblem(label, "has no 'id' property", kind="feature without id"))
            continue
        try:
            geometry = shapely.transform(shape(feature["geometry"]), to_local, interleaved=False)
        except Exception as exc:  # shapely raises several types for malformed GeoJSON geometry
            problems.append(MapProblem(label, f"unreadable geometry: {exc}", kind="unreadable geometry"))
            continue
        props = feature.get("properties") or {}
        reader = _FeatureReader(label, props, header, problems)
        if geometry.geom_type == "Point":
            node = reader.node(geometry.x, geometry.y)
            if node:
                nodes.setdefault(node.id, node)
        elif geometry.geom_type == "LineString":
            for lane in reader.lanes(geometry):
                lanes.setdefault(lane.id, lane)
        elif geometry.geom_type == "Polygon":
            zone = reader.zone(geometry)
            if zone:
                zones.setdefault(zone.id, zone)
        else:
            problems.append(MapProblem(label, f"unsupported geometry type {geometry.geom_type}",
                                       kind="unsupported geometry"))
    if problems:
        raise MapError(problems)

    border = border_line_of(zones.values(), header.jurisdictions)
    parameters = header.parameters.model_dump()
    problems = validate_corridor(nodes, lanes, zones, border, header.jurisdictions, parameters)
    if problems:
        raise MapError(problems)
    crossings = conflict_zones(nodes, lanes, header.parameters.agv_width_m)
    graph = build_graph(nodes, lanes, crossings)
    graph.graph["jurisdictions"] = header.jurisdictions  # for code given only the graph
    return Corridor(
        name=header.name,
        origin=origin,
        jurisdictions=header.jurisdictions,
        nodes=MappingProxyType(nodes),
        lanes=MappingProxyType(lanes),
        zones=MappingProxyType(zones),
        border_line=border,
        parameters=MappingProxyType(parameters),
        graph=graph,
        conflict_zones=MappingProxyType({zone.id: zone for zone in crossings}),
    )


class _FeatureReader:
    """Reads one feature's properties into a model object, recording problems instead of raising."""

    def __init__(self, label: str, props: Mapping[str, Any], header: CorridorConfig,
                 problems: list[MapProblem]) -> None:
        self.label, self.props, self.header, self.problems = label, props, header, problems

    def _fail(self, kind: str, message: str) -> None:
        self.problems.append(MapProblem(self.label, message, kind))

    def _text(self, key: str, required: bool = True) -> str | None:
        value = self.props.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            self._fail("missing or mistyped property", f"property '{key}' must be a non-empty string, got {value!r}")
            return None
        return value

    def _flag(self, key: str) -> bool:
        value = self.props.get(key, False)
        if not isinstance(value, bool):
            self._fail("missing or mistyped property", f"property '{key}' must be true or false, got {value!r}")
            return False
        return value

    def _jurisdiction(self) -> str | None:
        value = self._text("jurisdiction")
        if value is not None and value not in self.header.jurisdictions:
            self._fail("unknown jurisdiction",
                       f"unknown jurisdiction {value!r} (expected one of {list(self.header.jurisdictions)})")
            return None
        return value

    def node(self, x: float, y: float) -> Node | None:
        before = len(self.problems)
        kind_text, zone, jurisdiction = self._text("kind"), self._text("zone"), self._jurisdiction()
        kind = None
        if kind_text is not None:
            try:
                kind = NodeKind(kind_text)
            except ValueError:
                self._fail("unknown node kind",
                           f"unknown node kind {kind_text!r} (expected one of {[k.value for k in NodeKind]})")
        if len(self.problems) > before or kind is None or zone is None or jurisdiction is None:
            return None
        return Node(self.label, kind, zone, jurisdiction, x, y, str(self.props.get("name", "")))

    def lanes(self, geometry: LineString) -> list[Lane]:
        before = len(self.problems)
        source, target = self._text("from"), self._text("to")
        group = self._text("lane_group", required=False)
        crossing, bidirectional = self._flag("crossing"), self._flag("bidirectional")
        speed = self.props.get("max_speed")
        mps = float(speed) * self.header.speed_factor if _is_number(speed) else None
        if mps is None or not 0 < mps <= MAX_SPEED_LIMIT_MPS:
            self._fail("bad max_speed",
                       f"max_speed must be a positive number up to {MAX_SPEED_LIMIT_MPS} m/s, got {speed!r}")
        if geometry.length <= 0:
            self._fail("zero-length lane", "lane has zero length")
        if len(self.problems) > before or source is None or target is None or mps is None:
            return []
        forward = Lane(self.label, source, target, mps, geometry, crossing, group)
        if not bidirectional:
            return [forward]
        # Both directions share the physical lane, so they share a lane group (one direction at a time).
        group = group or self.label
        reverse = Lane(self.label + REVERSE_SUFFIX, target, source, mps, geometry.reverse(), crossing, group)
        return [Lane(self.label, source, target, mps, geometry, crossing, group), reverse]

    def zone(self, polygon: Polygon) -> Zone | None:
        before = len(self.problems)
        kind, jurisdiction = self._text("kind"), self._jurisdiction()
        if not polygon.is_valid:
            self._fail("invalid zone polygon", "zone polygon is not valid (self-intersecting or degenerate)")
        if len(self.problems) > before or kind is None or jurisdiction is None:
            return None
        return Zone(self.label, kind, jurisdiction, polygon, str(self.props.get("name", "")))


def _features(collection: Mapping[str, Any]) -> list[tuple[str | None, Mapping[str, Any]]]:
    if not isinstance(collection, Mapping) or collection.get("type") != "FeatureCollection":
        raise MapError([MapProblem("corridor.geojson", "must be a GeoJSON FeatureCollection",
                                   kind="no FeatureCollection")])
    raw = collection.get("features")
    if not isinstance(raw, list) or not raw:
        raise MapError([MapProblem("corridor.geojson", "has no features", kind="no features")])
    out = []
    for index, feature in enumerate(raw):
        if not isinstance(feature, Mapping) or not isinstance(feature.get("geometry"), Mapping):
            raise MapError([MapProblem(f"feature #{index}", "is not a GeoJSON Feature with a geometry",
                                       kind="feature without geometry")])
        fid = (feature.get("properties") or {}).get("id", feature.get("id"))
        out.append((str(fid) if fid not in (None, "") else None, feature))
    return out


#: Farther than this from the origin (km), a coordinate is not where the corridor is.
FAR_FROM_ORIGIN_KM = 100.0
COORDINATES = "coordinates not WGS84 near the origin"


def _coordinate_system(features: list[tuple[str | None, Mapping[str, Any]]],
                       origin: OriginConfig) -> MapProblem | None:
    """One clear problem when the coordinates are not WGS84 (lon, lat) near the origin: local metres, or
    latitude and longitude swapped. Without it every zone would be refused as an invalid polygon."""
    points = [(fid, c) for fid, f in features for c in _first_coordinates(f["geometry"])]
    if not points:
        return None
    fid, (x, y) = next(((fid, c) for fid, c in points if abs(c[0]) > 180 or abs(c[1]) > 90), points[0])
    far = sorted(_km(origin, lon, lat) for _, (lon, lat) in points)[len(points) // 2]
    if far <= FAR_FROM_ORIGIN_KM:
        return None
    if sorted(_km(origin, lat, lon) for _, (lon, lat) in points)[len(points) // 2] <= FAR_FROM_ORIGIN_KM:
        return MapProblem("corridor.geojson", f"coordinates look like (lat, lon) swapped (feature {fid} has {x}, {y}, "
                                              "near the origin only when read the other way): GeoJSON wants lon, lat",
                          kind=COORDINATES)
    if abs(x) > 180 or abs(y) > 90:
        return MapProblem("corridor.geojson", f"coordinates are not WGS84 degrees (feature {fid} has {x}, {y}): "
                                              "they look like local metres; export the map in EPSG:4326 (lon, lat)",
                          kind=COORDINATES)
    return MapProblem("corridor.geojson", f"the features lie {far:.0f} km from the origin ({origin.lat}, "
                                          f"{origin.lon}): coordinates in local metres, or a wrong origin? GeoJSON "
                                          "wants WGS84 lon, lat", kind=COORDINATES)


def _first_coordinates(geometry: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The first position of a Point, LineString or Polygon, when it is a pair of numbers."""
    coords: Any = geometry.get("coordinates")
    while isinstance(coords, list) and coords and isinstance(coords[0], list):
        coords = coords[0]
    if isinstance(coords, list) and len(coords) >= 2 and all(_is_number(c) for c in coords[:2]):
        return [(float(coords[0]), float(coords[1]))]
    return []


def _km(origin: OriginConfig, lon: float, lat: float) -> float:
    """Roughly how far (km) a WGS84 position is from the origin (equirectangular: fine at this scale)."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return math.inf
    dx = math.radians(lon - origin.lon) * math.cos(math.radians((lat + origin.lat) / 2))
    return 6371.0 * math.hypot(dx, math.radians(lat - origin.lat))


def _aeqd(origin: Origin) -> str:
    """The local frame as a PROJ definition: azimuthal equidistant centred on the origin, metres."""
    return f"+proj=aeqd +lat_0={origin.lat} +lon_0={origin.lon} +datum=WGS84 +units=m"


def wgs84_to_local(origin: Origin):
    """WGS84 (lon, lat) -> local metres east/north of the origin."""
    return Transformer.from_crs("EPSG:4326", _aeqd(origin), always_xy=True).transform


def local_to_wgs84(origin: Origin):
    """The inverse of the loader's projection: local (x, y) metres -> (lon, lat)."""
    return Transformer.from_crs(_aeqd(origin), "EPSG:4326", always_xy=True).transform


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
