"""Where each vehicle is seen against the border: a vehicle found across it, or on the border line, without a
crossing released to it (one driven by hand, or one that ignores its releases) is caught at its next report.

The fleet releases a crossing only on a gate decision that allows it, and a vehicle must never drive past its
released base (docs/vehicle-protocol.md §6); this checks the second from what the vehicle reports. Its reported
position decides the side (:meth:`planner.corridor.Corridor.jurisdiction_at`), not its last node: a vehicle off
its order may report no node at all. A crossing counts as released while the vehicle's own reported base holds
a node on the border line or across it, as it does from the moment the fleet releases the crossing until the
vehicle is across (the base it reported before, or the one it reports across: a release and the drive over can
both fall between two looks); the fleet's own record would not survive a restart, the vehicle's base does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from planner.corridor import BORDER_LINE_KINDS, Corridor


@dataclass
class BorderWatch:
    """What one vehicle was last seen doing at the border."""

    side: str | None = None  # the jurisdiction it was last seen in, off the line (None: not seen yet)
    may_cross: bool = False  # at its last sighting, its released base went onto the line or across
    on_line: bool = False  # last seen on the border line


@dataclass(frozen=True)
class UnreleasedCrossing:
    """A vehicle seen across the border, or onto its line, with no crossing released to it."""

    direction: str  # "VN->CN": from the side it was on towards the other
    across: bool  # seen on the other side (False: on the border line)


def sighting(watch: BorderWatch, corridor: Corridor, x: float, y: float,
             released: Iterable[str]) -> UnreleasedCrossing | None:
    """Update ``watch`` with a report of the vehicle at (x, y) with ``released`` its released nodes; what it did
    without a release, if anything. Said once: the vehicle is then taken as on the side (or the line) it is on."""
    on_line = corridor.on_border_line(x, y)
    side = None if on_line else corridor.jurisdiction_at(x, y)
    if side is None and not on_line:
        return None  # outside every zone: nothing to judge by
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
