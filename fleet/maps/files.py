"""Reading a corridor folder (``corridor.geojson`` + ``corridor.yaml``) from disk."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from planner.corridor import Corridor, MapError, MapProblem, corridor_from_geojson

GEOJSON_NAME = "corridor.geojson"
CONFIG_NAME = "corridor.yaml"


def load_corridor(folder: str | Path) -> Corridor:
    """Load and validate the corridor in ``folder``; :class:`MapError` names what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MapError([MapProblem(str(folder), "is not a corridor folder")])
    collection = _read(folder / GEOJSON_NAME, json.loads)
    config = _read(folder / CONFIG_NAME, yaml.safe_load)
    return corridor_from_geojson(collection, config)


def _read(path: Path, parse):
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MapError([MapProblem(path.name, f"missing: {path}")]) from None
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MapError([MapProblem(path.name, f"cannot be parsed: {exc}")]) from None
