"""Where each vehicle is seen against the border: a vehicle found across it, or on the border line, without a
crossing released to it (one driven by hand, or one that ignores its releases) is caught at its next report.

The fleet releases a crossing only on a gate decision that allows it, and a vehicle must never drive past its
released base (docs/vehicle-protocol.md §6); this checks the second from what the vehicle reports. Its reported
position decides the side (:meth:`planner.corridor.Corridor.jurisdiction_at`), not its last node: a vehicle off
its order may report no node at all. Off every zone, the nearest zone's side decides
(:meth:`planner.corridor.Corridor.nearest_jurisdiction`): the zones cover the corridor, not the countries, and a
vehicle beside the deck across the line is across all the same. Farther than :data:`OFF_THE_MAP_M` from every
zone, at a position that is no number, or on another map (``mapId``), the vehicle is off the map, wherever it is:
the fleet cannot vouch for where it goes next, so that is a finding of its own. A crossing counts as released
while the vehicle's own reported base holds a node on the border line or across it, as it does from the moment the
fleet releases the crossing until the vehicle is across (the base it reported before, or the one it reports across: a
release and the drive over can both fall between two looks); the fleet's own record would not survive a restart,
the vehicle's base does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from planner.corridor import BORDER_LINE_KINDS, Corridor


@dataclass
class BorderWatch:
    """What one vehicle was last seen doing at the border."""

    side: str | None = None  # the jurisdiction it was last seen in, off the line (None: not seen yet)
    may_cross: bool = False  # at its last sighting, its released base went onto the line or across
    on_line: bool = False  # last seen on the border line
    off_map: bool = False  # last seen off the map (:data:`OFF_THE_MAP_M`)


@dataclass(frozen=True)
class UnreleasedCrossing:
    """A vehicle seen across the border, or onto its line, with no crossing released to it."""

    direction: str  # "VN->CN": from the side it was on towards the other
    across: bool  # seen on the other side (False: on the border line)


@dataclass(frozen=True)
class OffTheMap:
    """A vehicle seen off the map: farther than :data:`OFF_THE_MAP_M` from every zone, at no number, or on
    another map."""

    side: str | None  # the side of the zone nearest to it (None: no number, or another map)
    off_by_m: float  # how far from the nearest zone (inf: no number, or another map)


#: how far outside every zone a vehicle is off the map: a vehicle at a bay on the map's edge reports a position a
#: little outside it, and the zones meet with millimetre gaps; the corridor's lanes run 3 m or more inside them
OFF_THE_MAP_M = 5.0


def sighting(watch: BorderWatch, corridor: Corridor, x: float, y: float,
             released: Iterable[str]) -> UnreleasedCrossing | OffTheMap | None:
    """Update ``watch`` with a report of the vehicle at (x, y) with ``released`` its released nodes; what it did
    without a release, if anything, else whether it went off the map. Each said once: the vehicle is then taken
    as on the side (or the line) it is on, and as off the map until it is seen on it again."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return elsewhere(watch)
    on_line = corridor.on_border_line(x, y)
    side, off_by_m = (None, 0.0) if on_line else _side_of(corridor, x, y)
    crossing = _judge(watch, corridor, side, on_line, released)
    off_map = _off_the_map(watch, OffTheMap(side, off_by_m) if off_by_m > OFF_THE_MAP_M else None)
    return crossing or off_map


def elsewhere(watch: BorderWatch) -> OffTheMap | None:
    """Update ``watch`` with a report of the vehicle at a position on another map than the corridor's (VDA 5050
    ``mapId``): the fleet cannot place it, so it is off the map (said once)."""
    return _off_the_map(watch, OffTheMap(None, math.inf))


def _side_of(corridor: Corridor, x: float, y: float) -> tuple[str, float]:
    """The side the point is on and how far outside every zone it lies."""
    side = corridor.jurisdiction_at(x, y)
    return (side, 0.0) if side is not None else corridor.nearest_jurisdiction(x, y)


def _off_the_map(watch: BorderWatch, off: OffTheMap | None) -> OffTheMap | None:
    """``off`` if the vehicle was not off the map already (said once)."""
    was_off, watch.off_map = watch.off_map, off is not None
    return None if was_off else off


def _judge(watch: BorderWatch, corridor: Corridor, side: str | None, on_line: bool,
           released: Iterable[str]) -> UnreleasedCrossing | None:
    """The vehicle seen on ``side`` (None: on the line): a crossing with no release, if it made one."""
    if watch.side is None:  # first seen (a restart: what it did before is not judged)
        watch.side, watch.on_line = side, on_line
        watch.may_cross = side is not None and _crosses(corridor, side, released)
        return None
    if side is None:  # on the line
        onto = not watch.on_line and not watch.may_cross and not _crosses(corridor, watch.side, released)
        watch.on_line = True
        return UnreleasedCrossing(corridor.direction_from(watch.side), across=False) if onto else None
    crossed = side != watch.side
    # (its base now going on across: released and driven over between two looks, the loop seeing each vehicle's
    # latest state once a tick)
    unreleased = crossed and not watch.may_cross and not _crosses(corridor, watch.side, released)
    found = UnreleasedCrossing(corridor.direction_from(watch.side), across=True) if unreleased else None
    watch.side, watch.on_line = side, False
    watch.may_cross = _crosses(corridor, side, released)
    return found


def _crosses(corridor: Corridor, side: str, released: Iterable[str]) -> bool:
    nodes = corridor.nodes
    return any(node.kind in BORDER_LINE_KINDS or node.jurisdiction != side
               for node in (nodes[n] for n in released if n in nodes))
