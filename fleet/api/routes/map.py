"""The corridor map as GeoJSON, as its folder holds it (WGS84) or in the corridor's local frame: what the
console draws."""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from fastapi import APIRouter
from shapely.geometry import mapping, shape

from fleet.api.deps import Reader, ServicesDep
from fleet.maps.files import GEOJSON_NAME
from planner.corridor import Origin, wgs84_to_local

router = APIRouter(tags=["map"])


class Frame(StrEnum):
    WGS84 = "wgs84"  # lon, lat: as the map folder holds it
    LOCAL = "local"  # metres east (x) and north (y) of the map's origin: the frame of vehicle positions


@router.get("/map")
def corridor_map(services: ServicesDep, _: Reader, frame: Frame = Frame.WGS84) -> dict[str, Any]:
    """The corridor's FeatureCollection: zones, nodes (docks, gates, parking...) and lanes, ids as the API uses.
    ``frame=local``: coordinates in metres east and north of the map's ``origin`` (given in the answer), the
    frame of the vehicles' ``x`` and ``y``."""
    origin = services.corridor.origin
    return {**_geojson(services.settings.map, frame, origin), "name": services.corridor.name,
            "origin": {"lat": origin.lat, "lon": origin.lon}, "frame": frame}


@cache
def _geojson(folder: Path, frame: Frame, origin: Origin) -> dict[str, Any]:
    collection = json.loads((folder / GEOJSON_NAME).read_text(encoding="utf-8"))
    if frame == Frame.LOCAL:
        project = wgs84_to_local(origin)

        def to_local(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            x, y = project(lon, lat)
            return np.round(x, 3), np.round(y, 3)  # millimetres: plenty for a map, a third of the bytes

        for feature in collection["features"]:
            local = shapely.transform(shape(feature["geometry"]), to_local, interleaved=False)
            feature["geometry"] = json.loads(json.dumps(mapping(local)))  # tuples -> lists, as JSON has them
    return collection
