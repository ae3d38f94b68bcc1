"""Where a simulated fleet starts: one vehicle per parking spot, named ``agv_001``... (``xborder agents``
places its simulated vehicles the same way, so the two agree without being told)."""

from __future__ import annotations

from fleet.vehicles.registry import VehicleConfig
from planner.corridor import Corridor, Node, NodeKind


def parking_nodes(corridor: Corridor, count: int) -> list[Node]:
    """``count`` parking spots taken from each side in turn (the first side first), by id within a side, so a
    fleet starts spread over both sides; ValueError if there are fewer."""
    sides = [sorted(corridor.nodes_of(NodeKind.PARKING, jurisdiction=side), key=lambda n: n.id)
             for side in corridor.jurisdictions]
    if count > sum(len(spots) for spots in sides):
        raise ValueError(f"the corridor has {sum(len(s) for s in sides)} parking spots, cannot place {count} "
                         "vehicles")
    taken: list[Node] = []
    for rank in range(max(len(spots) for spots in sides)):
        taken += [spots[rank] for spots in sides if rank < len(spots)]
    return taken[:count]


def vehicle_id(index: int) -> str:
    return f"agv_{index + 1:03d}"


def parked_fleet(corridor: Corridor, count: int) -> list[VehicleConfig]:
    """A simulated fleet of ``count`` vehicles, each at home on its spot's side and authorized to cross."""
    return [VehicleConfig(id=vehicle_id(i), home=n.jurisdiction, may_cross=True, start_node=n.id)
            for i, n in enumerate(parking_nodes(corridor, count))]
