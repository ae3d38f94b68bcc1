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

Short of the line, by it (in a zone that touches the line: a bridge deck, :meth:`Corridor.by_the_line`), a vehicle
reported nearer the line than its way lets it come (the node it last reached, its released nodes and the lanes
between them: :meth:`Corridor.way_to_the_line_m`) by more than :data:`PAST_ITS_BASE_M` is past its released base
towards the border: stopped there, before it reaches the line (judged only on the line or across, it was caught
a report too late, metres over). One coming back from the line has the line behind it on its way (its last
node); one between two released nodes or braking a little past its last one is within its way. A vehicle that
does not know where it is (VDA 5050 ``positionInitialized`` false) while it drives by the line, or on a way
that comes by it, cannot be placed: off the map.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from planner.corridor import BORDER_LINE_KINDS, Corridor


@dataclass
class BorderWatch:
    """What one vehicle was last seen doing at the border."""

    side: str | None = None  # the jurisdiction it was last seen in, off the line (None: not seen yet)
    may_cross: bool = False  # at its last sighting, its released base went onto the line or across
    on_line: bool = False  # last seen on the border line
    off_map: bool = False  # last seen off the map (:data:`OFF_THE_MAP_M`)
    past_base: bool = False  # last seen past its released base towards the line (:data:`PAST_ITS_BASE_M`)
    by_line: bool = False  # last seen by the line (:meth:`Corridor.by_the_line`)


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


@dataclass(frozen=True)
class PastItsBase:
    """A vehicle seen by the border line, short of it, nearer it than its released base goes."""

    side: str  # the side it is on
    to_line_m: float  # how far from the line it was seen
    base_to_line_m: float  # how near the line its way goes (inf: it has none on the map)


#: how much nearer the border line than its way a vehicle by the line may be seen: a vehicle stops within a metre
#: of its last node (short of it, or braking a little past it), and reports where it is to a few centimetres; the
#: last node before a crossing is 25 m short of the line on the shipped maps, a few reports at full speed
PAST_ITS_BASE_M = 3.0

#: how far outside every zone a vehicle is off the map: a vehicle at a bay on the map's edge reports a position a
#: little outside it, and the zones meet with millimetre gaps; the corridor's lanes run 3 m or more inside them
OFF_THE_MAP_M = 5.0


def sighting(watch: BorderWatch, corridor: Corridor, x: float, y: float, released: Sequence[str],
             last_node: str = "") -> UnreleasedCrossing | PastItsBase | OffTheMap | None:
    """Update ``watch`` with a report of the vehicle at (x, y) with ``released`` its released nodes (in order) and
    ``last_node`` the node it last reached; what it did without a release, if anything, else whether it went
    past its base towards the line, or off the map. Each said once: the vehicle is then taken as on the side (or
    the line) it is on, past its base or off the map until it is seen back."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return elsewhere(watch)
    on_line = corridor.on_border_line(x, y)
    side, off_by_m = (None, 0.0) if on_line else _side_of(corridor, x, y)
    crossing = _judge(watch, corridor, side, on_line, released)
    watch.by_line = on_line or corridor.by_the_line(x, y, OFF_THE_MAP_M)
    past = None if side is None else _past_its_base(watch, corridor, x, y, side, (last_node, *released))
    off_map = _off_the_map(watch, OffTheMap(side, off_by_m) if off_by_m > OFF_THE_MAP_M else None)
    return crossing or past or off_map


def elsewhere(watch: BorderWatch) -> OffTheMap | None:
    """Update ``watch`` with a report of the vehicle at a position on another map than the corridor's (VDA 5050
    ``mapId``): the fleet cannot place it, so it is off the map (said once)."""
    return _off_the_map(watch, OffTheMap(None, math.inf))


def unplaced(watch: BorderWatch, corridor: Corridor, driving: bool, released: Sequence[str],
             last_node: str = "") -> OffTheMap | None:
    """Update ``watch`` with a report of the vehicle saying it does not know where it is (VDA 5050
    ``positionInitialized`` false): driving, last seen by the line or on a way that comes by it, it may be
    anywhere up to the line and over it, so it is off the map (said once). Standing, or driving far from the
    line, it is not judged (a vehicle starting up says so before its first odometry)."""
    nodes = corridor.nodes
    near = watch.by_line or any(corridor.by_the_line(nodes[n].x, nodes[n].y) for n in (last_node, *released)
                                if n in nodes)
    return elsewhere(watch) if driving and near else None


def _side_of(corridor: Corridor, x: float, y: float) -> tuple[str, float]:
    """The side the point is on and how far outside every zone it lies."""
    side = corridor.jurisdiction_at(x, y)
    return (side, 0.0) if side is not None else corridor.nearest_jurisdiction(x, y)


def _past_its_base(watch: BorderWatch, corridor: Corridor, x: float, y: float, side: str,
                   way: Sequence[str]) -> PastItsBase | None:
    """The vehicle seen at (x, y) on ``side``, short of the line, driving ``way``: past its base towards the
    line, if it is by the line and nearer it than ``way`` by more than :data:`PAST_ITS_BASE_M` (said once)."""
    past = None
    if watch.by_line:
        to_line_m, base_to_line_m = corridor.to_the_line_m(x, y), corridor.way_to_the_line_m(way)
        if to_line_m < base_to_line_m - PAST_ITS_BASE_M:
            past = PastItsBase(side, to_line_m, base_to_line_m)
    was_past, watch.past_base = watch.past_base, past is not None
    return None if was_past else past


def _off_the_map(watch: BorderWatch, off: OffTheMap | None) -> OffTheMap | None:
    """``off`` if the vehicle was not off the map already (said once)."""
    was_off, watch.off_map = watch.off_map, off is not None
    return None if was_off else off


def _judge(watch: BorderWatch, corridor: Corridor, side: str | None, on_line: bool,
           released: Iterable[str]) -> UnreleasedCrossing | None:
    """The vehicle seen on ``side`` (None: on the line): a crossing with no release, if it made one."""
    if watch.side is None:  # first seen (a restart: what it did before is not judged)
        watch.side, watch.on_line = side, on_line
        watch.may_cross = side is not None and crosses(corridor, side, released)
        return None
    if side is None:  # on the line
        onto = not watch.on_line and not watch.may_cross and not crosses(corridor, watch.side, released)
        watch.on_line = True
        return UnreleasedCrossing(corridor.direction_from(watch.side), across=False) if onto else None
    crossed = side != watch.side
    # (its base now going on across: released and driven over between two looks, the loop seeing each vehicle's
    # latest state once a tick)
    unreleased = crossed and not watch.may_cross and not crosses(corridor, watch.side, released)
    found = UnreleasedCrossing(corridor.direction_from(watch.side), across=True) if unreleased else None
    watch.side, watch.on_line = side, False
    watch.may_cross = crosses(corridor, side, released)
    return found


def crosses(corridor: Corridor, side: str, released: Iterable[str]) -> bool:
    """One of the ``released`` nodes (those not on the map aside) is on the border line or across from ``side``."""
    nodes = corridor.nodes
    return any(node.kind in BORDER_LINE_KINDS or node.jurisdiction != side
               for node in (nodes[n] for n in released if n in nodes))
