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


# --- the store's backends: SQLite files, and a real PostgreSQL server the tests start themselves -------------

def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "both_backends: run the test's store on SQLite and on PostgreSQL "
                                       "(parametrizes the `backend` fixture)")
    config.addinivalue_line("markers", "sqlite_only(why): in a both_backends module, a test run on SQLite alone")


def pytest_generate_tests(metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        only = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("backend", ["sqlite"] if only else ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the session (each test takes a database of its own: :func:`store_location`);
    skipped, saying why, only where the server binaries are not installed."""
    from sim.postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    server.start()
    yield server
    server.close()


@pytest.fixture
def backend(request) -> str:
    """The store's engine: ``sqlite`` unless the test is marked ``both_backends``."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def store_location(backend, tmp_path, request) -> str | Path:
    """Where the test's store lives: an SQLite file in tmp_path, or a fresh database on the session's server."""
    if backend == "postgresql":
        return request.getfixturevalue("postgres").create_database()
    return tmp_path / "fleet.db"
