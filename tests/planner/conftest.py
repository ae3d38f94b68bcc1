"""Fixtures for the planner's tests: one fleet planner on the real map per test (it keeps reservations)."""

from __future__ import annotations

import pytest

from planner.schedule import FleetPlanner


@pytest.fixture
def planner(bac_luan_ii) -> FleetPlanner:
    return FleetPlanner(bac_luan_ii.graph)
