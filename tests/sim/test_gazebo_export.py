"""The Gazebo export: real SDF validation with ``ign sdf -k``, plus the checks ign does not do."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from agv_agent import default_params_file

from sim.gazebo.agv_model import AgvParams
from sim.gazebo.export import export_corridor
from sim.gazebo.plugins import DIFF_DRIVE, HARMONIC_SYSTEMS, System
from sim.gazebo.world import covers_every_lane, surface_footprints

IGN = shutil.which("ign")
needs_ign = pytest.mark.skipif(IGN is None, reason="ign (Debian ignition-tools) not installed; make test installs it")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, bac_luan_ii_dir):
    return export_corridor(bac_luan_ii_dir, tmp_path_factory.mktemp("gazebo"), count=3)


def ign_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([IGN, "sdf", "-k", str(path)], capture_output=True, text=True, timeout=300)


@needs_ign
@pytest.mark.parametrize("role", ["world", "model"])
def test_generated_sdf_is_valid(exported, role):
    done = ign_check(exported[role])
    assert done.returncode == 0 and "Valid" in done.stdout, done.stdout + done.stderr


@needs_ign
def test_the_parser_does_reject_broken_sdf(exported, tmp_path):
    """The check above can fail: a model with a box of two dimensions is refused."""
    broken = tmp_path / "broken.sdf"
    broken.write_text(re.sub(r"<size>[^<]*</size>", "<size>1 2</size>", exported["model"].read_text(), count=1))
    assert ign_check(broken).returncode != 0


def plugins_in(path: Path) -> list[System]:
    return [System(p.get("filename"), p.get("name")) for p in ET.parse(path).iter("plugin")]


def test_every_plugin_is_a_gazebo_harmonic_system(exported):
    used = plugins_in(exported["world"]) + plugins_in(exported["model"])
    assert used and set(used) <= HARMONIC_SYSTEMS, set(used) - HARMONIC_SYSTEMS


def test_diff_drive_matches_the_agent_parameters(exported):
    params = AgvParams.from_file(default_params_file())
    for path in (exported["model"], exported["world"]):
        drives = [p for p in ET.parse(path).iter("plugin") if p.get("name") == DIFF_DRIVE.name]
        assert drives
        for drive in drives:
            value = {child.tag: child.text for child in drive}
            assert float(value["wheel_separation"]) == pytest.approx(params.wheel_separation)
            assert float(value["wheel_radius"]) == pytest.approx(params.wheel_radius)
            assert float(value["max_linear_velocity"]) == pytest.approx(params.max_linear_speed)
            assert float(value["max_angular_velocity"]) == pytest.approx(params.max_angular_speed)
            assert float(value["max_linear_acceleration"]) == pytest.approx(params.max_linear_accel)
            assert float(value["min_linear_acceleration"]) == pytest.approx(-params.max_linear_decel)
    chassis = next(ET.parse(exported["model"]).iter("box"))
    length, width, _ = map(float, chassis.find("size").text.split())
    assert (length, width) == (params.vehicle_length, params.vehicle_width)


def test_topics_match_bridge_and_agent_namespaces(exported):
    bridge = yaml.safe_load(exported["bridge"].read_text())
    vehicles = yaml.safe_load(exported["vehicles"].read_text())
    namespace = vehicles["fleet_namespace"]
    world = ET.parse(exported["world"])
    gz_topics = {e.text for e in world.iter() if e.tag in ("topic", "odom_topic")}
    bridged = {entry["gz_topic_name"] for entry in bridge}
    assert gz_topics == bridged
    for v in vehicles["vehicles"]:
        for name in ("cmd_vel", "odom", "scan"):
            assert f"/{namespace}/{v['vehicle_id']}/{name}" in bridged  # what agv_agent subscribes/publishes
    assert all(entry["ros_topic_name"] == entry["gz_topic_name"] for entry in bridge)
    gates = [e for e in bridge if e["gz_type_name"] == "gz.msgs.Double"]
    assert len(gates) == 8 and all(e["direction"] == "ROS_TO_GZ" for e in gates)


def test_every_lane_is_on_a_drivable_surface(bac_luan_ii):
    assert covers_every_lane(bac_luan_ii) == []
    assert surface_footprints(bac_luan_ii).area > 0


def test_vehicles_stand_at_parking_spots(exported, bac_luan_ii):
    vehicles = yaml.safe_load(exported["vehicles"].read_text())["vehicles"]
    assert len(vehicles) == 3
    models = {m.get("name"): m for m in ET.parse(exported["world"]).getroot().find("world").findall("model")}
    for v in vehicles:
        spot = bac_luan_ii.nodes[v["initial_node_id"]]
        assert spot.kind == "parking"
        x, y = map(float, models[v["vehicle_id"]].find("pose").text.split()[:2])
        assert (x, y) == pytest.approx((spot.x, spot.y), abs=1e-3)
    assert sum(1 for name in models if name.startswith("barrier_")) == 8


def test_export_command_refuses_bad_input(tmp_path, bac_luan_ii_dir):
    xborder = str(Path(sys.executable).with_name("xborder"))
    missing = subprocess.run([xborder, "gazebo", "export", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "is not a corridor folder" in missing.stderr
    too_many = subprocess.run([xborder, "gazebo", "export", str(bac_luan_ii_dir), "--out", str(tmp_path / "o"),
                               "--count", "1000"], capture_output=True, text=True)
    assert too_many.returncode == 2 and "parking spots" in too_many.stderr
