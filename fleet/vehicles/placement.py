"""Where a simulated fleet starts: one vehicle per parking spot, named ``agv_001``... (``xborder agents``
places its simulated vehicles the same way, so the two agree without being told)."""

from __future__ import annotations

from fleet.vehicles.registry import VehicleConfig
from planner.corridor import Corridor, Node, NodeKind


def parking_nodes(corridor: Corridor, count: int) -> list[Node]:
    """``count`` parking spots, the first side's first, by id; ValueError if there are fewer."""
    spots = sorted(corridor.nodes_of(NodeKind.PARKING),
                   key=lambda n: (n.jurisdiction != corridor.jurisdictions[0], n.id))
    if count > len(spots):
        raise ValueError(f"the corridor has {len(spots)} parking spots, cannot place {count} vehicles")
    return spots[:count]


def vehicle_id(index: int) -> str:
    return f"agv_{index + 1:03d}"


def parked_fleet(corridor: Corridor, count: int) -> list[VehicleConfig]:
    """A simulated fleet of ``count`` vehicles, each at home on its spot's side and authorized to cross."""
    return [VehicleConfig(id=vehicle_id(i), home=n.jurisdiction, may_cross=True, start_node=n.id)
            for i, n in enumerate(parking_nodes(corridor, count))]
