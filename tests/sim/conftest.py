"""Fixtures of the simulation tests: a small corridor unlike Bac Luan II, to show the export is map-agnostic."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from planner.corridor import Origin, local_to_wgs84

if TYPE_CHECKING:
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node


@dataclass
class RosProbe:
    """A test-side ROS 2 node on its own context, and a way to spin it until something holds."""

    node: Node
    executor: SingleThreadedExecutor

    def spin_until(self, condition: Callable[[], bool], timeout_s: float,
                   on_each: Callable[[], object] | None = None) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if on_each:
                on_each()
            self.executor.spin_once(timeout_sec=0.2)
            if condition():
                return True
        return False


@pytest.fixture
def ros_probe(monkeypatch):
    """A probe node on an isolated DDS domain (loopback only); processes started in the test inherit it."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    monkeypatch.setenv("ROS_DOMAIN_ID", str(100 + os.getpid() % 20))  # 100 to 119: apart from tests/ros and tests/e2e
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    context = Context()
    rclpy.init(context=context)
    node = Node("gazebo_test_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    yield RosProbe(node, executor)
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown(context=context)


@pytest.fixture(scope="session")
def toy_map_dir(tmp_path_factory) -> Path:
    return write_toy_map(tmp_path_factory.mktemp("maps") / "toy_corridor")


def write_toy_map(folder: Path) -> Path:
    """An east-west corridor between two made-up jurisdictions, with bent and two-way lanes."""
    origin = {"lat": 14.0, "lon": 101.0}
    to_wgs84 = local_to_wgs84(Origin(**origin))
    features: list[dict] = []

    def zone(zid: str, kind: str, side: str, x0: float, x1: float, y0: float, y1: float) -> None:
        ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        features.append({"type": "Feature", "properties": {"id": zid, "kind": kind, "jurisdiction": side},
                         "geometry": {"type": "Polygon", "coordinates": [[list(to_wgs84(x, y)) for x, y in ring]]}})

    points: dict[str, tuple[float, float]] = {}

    def node(nid: str, kind: str, zone_id: str, side: str, x: float, y: float) -> None:
        points[nid] = (x, y)
        features.append({"type": "Feature", "properties": {"id": nid, "kind": kind, "zone": zone_id,
                                                           "jurisdiction": side},
                         "geometry": {"type": "Point", "coordinates": list(to_wgs84(x, y))}})

    def lane(source: str, target: str, via: tuple = (), **props) -> None:
        line = [points[source], *via, points[target]]
        features.append({"type": "Feature", "properties": {"id": f"{source}__{target}", "from": source, "to": target,
                                                           "max_speed": 15, **props},
                         "geometry": {"type": "LineString", "coordinates": [list(to_wgs84(x, y)) for x, y in line]}})

    for side, sign in (("LA", -1), ("TH", 1)):
        s = side.lower()
        zone(f"{s}_yard", "yard", side, *sorted((sign * 100, sign * 300)), -60, 60)
        zone(f"{s}_bridge", "bridge", side, *sorted((0, sign * 100)), -10, 10)
        node(f"{s}_hub", "waypoint", f"{s}_yard", side, sign * 200, 0)
        node(f"{s}_dock", "dock", f"{s}_yard", side, sign * 260, 40)
        node(f"{s}_park", "parking", f"{s}_yard", side, sign * 260, -40)
        node(f"{s}_charger", "charger", f"{s}_yard", side, sign * 160, 45)
        node(f"{s}_gate_out", "gate", f"{s}_yard", side, sign * 120, sign * -5)
        node(f"{s}_gate_in", "gate", f"{s}_yard", side, sign * 120, sign * 5)
        node(f"{s}_deck_out", "waypoint", f"{s}_bridge", side, sign * 30, sign * -5)
        node(f"{s}_deck_in", "waypoint", f"{s}_bridge", side, sign * 30, sign * 5)
        lane(f"{s}_hub", f"{s}_dock", via=((sign * 230, 10), (sign * 250, 40)), bidirectional=True,
             lane_group=f"{s}_dock_spur")
        lane(f"{s}_hub", f"{s}_park", via=((sign * 240, -40),), bidirectional=True, lane_group=f"{s}_park_spur")
        lane(f"{s}_hub", f"{s}_charger", bidirectional=True, lane_group=f"{s}_charger_spur")
        lane(f"{s}_hub", f"{s}_gate_out", via=((sign * 150, sign * -5),))
        lane(f"{s}_gate_out", f"{s}_deck_out")
        lane(f"{s}_deck_in", f"{s}_gate_in")
        lane(f"{s}_gate_in", f"{s}_hub", via=((sign * 150, sign * 5),))
    lane("la_deck_out", "th_deck_in", crossing=True)
    lane("th_deck_out", "la_deck_in", crossing=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corridor.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    (folder / "corridor.yaml").write_text(yaml.safe_dump({
        "name": "Toy east-west corridor", "origin": origin, "units": {"length": "m", "speed": "km/h"},
        "jurisdictions": ["LA", "TH"]}))
    return folder
