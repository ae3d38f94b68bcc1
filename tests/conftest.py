"""Fixtures shared by the whole suite."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BAC_LUAN_II = REPO / "maps" / "bac_luan_ii"
KIM_THANH = REPO / "maps" / "kim_thanh"
#: every corridor shipped in maps/: CI validates, renders and plans each
SHIPPED_MAPS = sorted(p.parent for p in (REPO / "maps").glob("*/corridor.yaml"))


@pytest.fixture(scope="session")
def bac_luan_ii_dir() -> Path:
    return BAC_LUAN_II


@pytest.fixture(scope="session")
def _bac_luan_ii_raw() -> tuple[dict, dict]:
    return (json.loads((BAC_LUAN_II / "corridor.geojson").read_text()),
            yaml.safe_load((BAC_LUAN_II / "corridor.yaml").read_text()))


@pytest.fixture
def bac_luan_ii_raw(_bac_luan_ii_raw: tuple[dict, dict]) -> tuple[dict, dict]:
    """A private, mutable copy of the map's GeoJSON and YAML, for breaking it in a test."""
    return copy.deepcopy(_bac_luan_ii_raw)


@pytest.fixture(scope="session")
def bac_luan_ii():
    from fleet.maps import load_corridor

    return load_corridor(BAC_LUAN_II)


@pytest.fixture(scope="session")
def kim_thanh_dir() -> Path:
    return KIM_THANH


@pytest.fixture(scope="session")
def kim_thanh():
    from fleet.maps import load_corridor

    return load_corridor(KIM_THANH)
