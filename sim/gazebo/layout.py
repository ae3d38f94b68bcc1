"""Where things go in the world, from the corridor alone: road strips and AGV spawn spots."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

from shapely import affinity
from shapely.geometry import LineString, Polygon, box

from planner.corridor import Corridor, NodeKind
from sim.gazebo.agv_params import ros_name


class ExportError(ValueError):
    """The export cannot be made as asked (e.g. more AGVs than parking spots)."""


@dataclass(frozen=True)
class Strip:
    """A straight rectangle on the ground: centre, heading (rad, from x east), length and width (m)."""

    name: str
    x: float
    y: float
    yaw: float
    length: float
    width: float


@dataclass(frozen=True)
class Spawn:
    vehicle_id: str
    parking: str
    x: float
    y: float
    yaw: float


def line_strips(name: str, line: LineString, width: float, overhang: float) -> list[Strip]:
    """One strip per straight piece of ``line``, each ``overhang`` longer at both ends so bends stay covered."""
    strips = []
    for index, ((x0, y0), (x1, y1)) in enumerate(itertools.pairwise(line.coords)):
        length = math.hypot(x1 - x0, y1 - y0)
        if length > 0:
            strips.append(Strip(f"{name}_{index}", (x0 + x1) / 2, (y0 + y1) / 2, math.atan2(y1 - y0, x1 - x0),
                                length + 2 * overhang, width))
    return strips


def road_strips(corridor: Corridor, width: float) -> list[Strip]:
    """Strips covering every lane once (a two-way lane's reverse direction shares its feature's road)."""
    drawn = {lane.feature_id: lane for lane in corridor.lanes.values() if lane.id == lane.feature_id}
    return [strip for feature_id, lane in sorted(drawn.items())
            for strip in line_strips(ros_name(feature_id), lane.geometry, width, overhang=width / 2)]


def parking_spawns(corridor: Corridor, count: int, length: float, width: float) -> list[Spawn]:
    """``count`` AGVs on parking spots, taken in turn from each side so both sides get vehicles.

    A spot whose ``length`` x ``width`` footprint would overlap an AGV already placed is skipped.
    """
    if count < 0:
        raise ExportError(f"--count must not be negative, not {count}")
    by_side = [sorted(corridor.nodes_of(NodeKind.PARKING, jurisdiction=side), key=lambda n: _natural_key(n.id))
               for side in corridor.jurisdictions]
    spawns: list[Spawn] = []
    footprints: list[Polygon] = []
    for node in (n for group in itertools.zip_longest(*by_side) for n in group if n is not None):
        if len(spawns) == count:
            break
        yaw = corridor.heading_into(node.id)
        footprint = footprint_of(node.x, node.y, yaw, length, width)
        if not any(footprint.intersects(other) for other in footprints):
            spawns.append(Spawn(f"agv_{len(spawns) + 1:03d}", node.id, node.x, node.y, yaw))
            footprints.append(footprint)
    if len(spawns) < count:
        raise ExportError(f"--count {count}: the map has room for only {len(spawns)} AGVs on its parking spots")
    return spawns


def footprint_of(x: float, y: float, yaw: float, length: float, width: float) -> Polygon:
    """The ground rectangle of a vehicle centred at (x, y) heading ``yaw``."""
    rectangle = box(x - length / 2, y - width / 2, x + length / 2, y + width / 2)
    return affinity.rotate(rectangle, yaw, origin=(x, y), use_radians=True)


def _natural_key(text: str) -> list[int | str]:
    """``parking_2`` before ``parking_10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
