"""``xborder plan scenario``: the planner end to end on a map, as an engineer runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import SHIPPED_MAPS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("xborder")), *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("folder", SHIPPED_MAPS, ids=[p.name for p in SHIPPED_MAPS])
def test_plans_checks_executes_and_draws_a_busy_moment(folder, tmp_path):
    out = tmp_path / "plans.png"
    done = run("plan", "scenario", str(folder), "--count", "30", "--seed", "4", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    text = " ".join(done.stdout.split())
    assert "planned 30 AGVs" in text and "stalled: 0" in text
    assert "rule violations (independent check): 0" in text and "precedence acyclic (no deadlock): True" in text
    assert "30 finished, 0 stuck" in text
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
    if yaml.safe_load((folder / "corridor.yaml").read_text())["parameters"]["handoff_mode"] == "relay":
        assert "container transfers at the handoff pad (custody recorded)" in text


def test_more_vehicles_than_the_corridor_can_hold_is_refused(bac_luan_ii_dir, tmp_path):
    done = run("plan", "scenario", str(bac_luan_ii_dir), "--count", "5000", "--out", str(tmp_path / "p.png"))
    assert done.returncode == 2
    assert "do not fit" in done.stdout + done.stderr


def test_the_diagram_draws_the_maps_chinese_name(kim_thanh_dir, tmp_path):
    """Kim Thanh's name holds Chinese characters: they were drawn as boxes (the map fonts were not used)."""
    done = run("plan", "scenario", str(kim_thanh_dir), "--count", "4", "--out", str(tmp_path / "p.png"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "missing from font" not in done.stderr


def test_a_picture_format_matplotlib_cannot_write_is_refused_up_front(bac_luan_ii_dir, tmp_path):
    """`--out plans.txt` was a ValueError traceback from savefig, after the planning."""
    done = run("plan", "scenario", str(bac_luan_ii_dir), "--count", "2", "--out", str(tmp_path / "plans.txt"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--out" in done.stderr and ".png or .svg" in done.stderr and "Traceback" not in done.stderr


def test_each_vehicle_is_drawn_in_one_colour_all_along(bac_luan_ii_dir, tmp_path, monkeypatch):
    """Each stretch of a plan took the next colour of the cycle, so a vehicle changed colour node by node and
    could not be followed along the diagram."""
    import matplotlib.pyplot as plt

    from fleet.maps import load_corridor
    from planner.schedule import FleetPlanner, FollowingRules
    from sim.plan_scenario import draw_time_distance, plan_moment
    from sim.planning_scenarios import random_requests

    corridor = load_corridor(bac_luan_ii_dir)
    planner = FleetPlanner(corridor.graph, FollowingRules.from_parameters(corridor.parameters))
    plans = plan_moment(corridor, planner, random_requests(corridor, 12, seed=4, relay=False), 4).plans
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    draw_time_distance(corridor, plans, tmp_path / "p.png")
    colours: dict[str, set[str]] = {}
    for ax in figures[0].axes:
        for line in ax.lines:
            if line.get_gid():
                colours.setdefault(line.get_gid(), set()).add(line.get_color())
    assert colours and all(len(c) == 1 for c in colours.values()), colours
