"""``xborder map validate|render`` as a user runs them: the installed command in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

from tests.conftest import SHIPPED_MAPS

XBORDER = str(Path(sys.executable).with_name("xborder"))


def run(*args: str) -> subprocess.CompletedProcess:
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    if "PYTHONPATH" in os.environ:  # a worktree's code shadowing the installed package
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run([XBORDER, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def map_copy(tmp_path: Path, bac_luan_ii_dir: Path) -> Path:
    folder = tmp_path / "corridor"
    shutil.copytree(bac_luan_ii_dir, folder)
    return folder


def test_help_lists_subcommands():
    result = run("--help")
    assert result.returncode == 0
    assert "map" in result.stdout


def test_validate_prints_the_summary(bac_luan_ii_dir):
    result = run("map", "validate", str(bac_luan_ii_dir))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "valid corridor map" in out
    assert "nodes: 621" in out and "lanes: 903 directed" in out
    assert "conflict zones (lanes meeting without a node): 0" in out
    assert "VN->CN  vn_dock_" in out and "CN->VN  cn_dock_" in out
    assert "gates vn_gate_out_" in out and "cn_gate_in_" in out


def test_validate_refuses_a_broken_map_naming_the_lane(map_copy):
    path = map_copy / "corridor.geojson"
    collection = json.loads(path.read_text())
    lane = next(f for f in collection["features"] if f["properties"]["id"] == "cn_out_post__cn_app_out_0")
    lane["properties"]["to"] = "cn_nowhere"
    path.write_text(json.dumps(collection))
    result = run("map", "validate", str(map_copy))
    assert result.returncode == 2
    assert "cn_out_post__cn_app_out_0: dangling lane: its 'to' node 'cn_nowhere' is not in the map" in result.stderr


def test_validate_refuses_a_corrupt_file(map_copy):
    (map_copy / "corridor.geojson").write_text('{"type": "FeatureCollection", "features": [')
    result = run("map", "validate", str(map_copy))
    assert result.returncode == 2
    assert "corridor.geojson: cannot be parsed" in result.stderr


def test_validate_refuses_a_missing_folder(tmp_path):
    result = run("map", "validate", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "is not a corridor folder" in result.stderr


@pytest.mark.parametrize("folder", SHIPPED_MAPS, ids=[p.name for p in SHIPPED_MAPS])
def test_every_shipped_map_is_valid(folder):
    result = run("map", "validate", str(folder))
    assert result.returncode == 0, result.stderr
    assert "valid corridor map" in result.stdout


@pytest.mark.parametrize("folder", SHIPPED_MAPS, ids=[p.name for p in SHIPPED_MAPS])
def test_render_writes_a_picture(folder, tmp_path):
    out = tmp_path / "pictures" / "corridor.png"
    result = run("map", "render", str(folder), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "missing from font" not in result.stderr  # Vietnamese and Chinese names drawn (fonts-noto-cjk)
    image = matplotlib.image.imread(out)
    height, width = image.shape[:2]
    assert width > 2000 and height > 1000
    # far from blank: zones, lanes and markers cover a good share of the pixels
    assert (image[..., :3].mean(axis=2) < 0.95).mean() > 0.1


def test_render_refuses_a_picture_format_it_cannot_write(bac_luan_ii_dir, tmp_path):
    """`--out corridor.txt` was a ValueError traceback from savefig."""
    result = run("map", "render", str(bac_luan_ii_dir), "--out", str(tmp_path / "corridor.txt"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--out" in result.stderr and ".png or .svg" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "corridor.txt").exists()
