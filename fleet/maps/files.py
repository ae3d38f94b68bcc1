"""Reading a corridor folder (``corridor.geojson`` + ``corridor.yaml``) from disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from planner.corridor import Corridor, MapError, MapProblem, corridor_from_geojson

GEOJSON_NAME = "corridor.geojson"
CONFIG_NAME = "corridor.yaml"
#: The corridor maps shipped with xborder: the repository's maps/ folder, found from this package (not
#: from the working directory, so commands work from anywhere).
MAPS_DIR = Path(__file__).resolve().parents[2] / "maps"
#: The map used when none is given; ``XBORDER_MAP`` (a folder) overrides it.
DEFAULT_MAP_NAME = "bac_luan_ii"


def default_map_folder() -> Path:
    """The corridor folder a command uses when given none: ``$XBORDER_MAP``, else the shipped default."""
    return Path(os.environ.get("XBORDER_MAP") or MAPS_DIR / DEFAULT_MAP_NAME)


def shipped_maps() -> list[Path]:
    """Every corridor folder shipped in maps/."""
    return sorted(p.parent for p in MAPS_DIR.glob(f"*/{CONFIG_NAME}"))


def load_corridor(folder: str | Path) -> Corridor:
    """Load and validate the corridor in ``folder``; :class:`MapError` names what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MapError([MapProblem(str(folder), "is not a corridor folder", kind="no corridor folder")])
    collection = _read(folder / GEOJSON_NAME, json.loads)
    config = _read(folder / CONFIG_NAME, yaml.safe_load)
    return corridor_from_geojson(collection, config)


def _read(path: Path, parse):
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MapError([MapProblem(path.name, f"missing: {path}", kind="missing file")]) from None
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MapError([MapProblem(path.name, f"cannot be parsed: {exc}", kind="unreadable file")]) from None
    except OSError as exc:  # a folder of that name, no permission
        raise MapError([MapProblem(path.name, f"cannot be read: {exc.strerror}: {path}", kind="unreadable file")]) \
            from None
