"""Corridor maps: the model, the loader and the validator.

>>> from planner.corridor import corridor_from_geojson, MapError  # doctest: +SKIP
"""

from planner.corridor.config import CorridorConfig
from planner.corridor.crossings import ConflictZone
from planner.corridor.errors import MapError, MapProblem
from planner.corridor.model import (
    BORDER_LINE_KINDS,
    TERMINAL_KINDS,
    WAITING_KINDS,
    Corridor,
    Lane,
    Node,
    NodeKind,
    Origin,
    Zone,
)
from planner.corridor.parse import corridor_from_geojson, local_to_wgs84, wgs84_to_local

__all__ = [
    "BORDER_LINE_KINDS",
    "TERMINAL_KINDS",
    "WAITING_KINDS",
    "ConflictZone",
    "Corridor",
    "CorridorConfig",
    "Lane",
    "MapError",
    "MapProblem",
    "Node",
    "NodeKind",
    "Origin",
    "Zone",
    "corridor_from_geojson",
    "local_to_wgs84",
    "wgs84_to_local",
]
