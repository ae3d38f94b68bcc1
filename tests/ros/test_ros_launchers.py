"""The launchers: ROS 2 launch files compile (``ros2 launch`` is not installable here), and ``xborder agents``
starts vehicles at the map's parking spots that report over DDS."""

from __future__ import annotations

import py_compile
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sim.ros_fleet import parking_spots, vehicle_command

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("launch_file", sorted((REPO / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_files_compile(launch_file):
    py_compile.compile(str(launch_file), doraise=True)


def test_vehicles_are_placed_at_parking_spots(bac_luan_ii):
    specs = parking_spots(bac_luan_ii, 3)
    assert [s.vehicle_id for s in specs] == ["agv_001", "agv_002", "agv_003"]
    for s in specs:
        node = bac_luan_ii.nodes[s.node_id]
        assert node.kind == "parking" and (node.x, node.y) == (s.x, s.y)
    command = vehicle_command(specs[0])
    assert "__ns:=/xborder/agv_001" in command and f"initial_node_id:='{specs[0].node_id}'" in command
    with pytest.raises(ValueError, match="parking spots"):
        parking_spots(bac_luan_ii, 10_000)


@pytest.mark.ros
def test_xborder_agents_starts_reporting_vehicles(bridge, bac_luan_ii_dir, bac_luan_ii):
    process = subprocess.Popen([str(Path(sys.executable).with_name("xborder")), "agents", "--count", "2",
                                "--map", str(bac_luan_ii_dir), "--fleet", "xborder"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for vehicle in ("agv_001", "agv_002"):
            bridge.add_vehicle(vehicle)
        assert bridge.wait_for(lambda: all(bridge.state(v) is not None for v in ("agv_001", "agv_002")), 40)
        spots = {s.vehicle_id: s for s in parking_spots(bac_luan_ii, 2)}
        for vehicle, spec in spots.items():
            state = bridge.state(vehicle)
            assert state.last_node_id == spec.node_id
            assert abs(state.pose.x - spec.x) < 0.01 and abs(state.pose.y - spec.y) < 0.01
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
