"""The corridor map as GeoJSON (WGS84), as its folder holds it: what the console draws."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from fleet.api.deps import Reader, ServicesDep
from fleet.maps.files import GEOJSON_NAME

router = APIRouter(tags=["map"])


@router.get("/map")
def corridor_map(services: ServicesDep, _: Reader) -> dict[str, Any]:
    """The corridor's FeatureCollection: zones, nodes (docks, gates, parking...) and lanes, ids as the API uses."""
    return {**_geojson(services.settings.map), "name": services.corridor.name}


@cache
def _geojson(folder: Path) -> dict[str, Any]:
    return json.loads((folder / GEOJSON_NAME).read_text(encoding="utf-8"))
