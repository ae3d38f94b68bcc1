"""Through operation: how many orders each direction may give out now, from what its departure side's outbound
gate lanes can take (issue #13, finding 15). Relay has its own limit, a receiver for every load
(:func:`fleet.dispatch.relay.orders_to_give_out`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fleet.dispatch.tracks import JobKind, Track
from fleet.orders import OrderPublic, OrderState

#: an order in one of these, on a vehicle not yet cleared, still has its departure side's gate lanes ahead of it
#: (``cleared`` on such a vehicle: a restart found it at its gate, where it waits for the gate rule again)
BEFORE_THE_GATES = frozenset({OrderState.ASSIGNED, OrderState.TO_PICKUP, OrderState.LOADED,
                              OrderState.AWAITING_CLEARANCE, OrderState.CLEARED})


def loads_before_the_gates(tracks: Iterable[Track]) -> dict[str, int]:
    """Per departure side, the vehicles given an order that have its outbound gate lanes still ahead: on their
    way to the pickup, loading, or loaded and not yet cleared at a gate."""
    count: dict[str, int] = {}
    for track in tracks:
        job = track.job
        if job is not None and job.kind == JobKind.DELIVER and job.order is not None and not job.cleared \
                and job.order.state in BEFORE_THE_GATES:
            side = job.order.source
            count[side] = count.get(side, 0) + 1
    return count


def room_left(tracks: Iterable[Track], room: Mapping[str, int]) -> dict[str, int]:
    """Per departure side, how many more loads its gate lanes can take now: ``room[side]`` loads before its gates
    at once, less those it has (none left: zero or less)."""
    left = dict(room)
    for side, loads in loads_before_the_gates(tracks).items():
        left[side] = left.get(side, 0) - loads
    return left


def within_gate_capacity(waiting: Iterable[OrderPublic], left: Mapping[str, int]) -> list[OrderPublic]:
    """Of ``waiting`` (the most urgent first), those each departure side can still take (``left``:
    :func:`room_left`). Handed every free vehicle, ``target_2030`` (200 AGVs) filled both yards with loaded
    vehicles waiting for the two gate lanes a side, on every dock and bay, until nothing could come in to unload
    and nothing moved from about 10:30."""
    left = dict(left)
    given = []
    for order in waiting:
        side = order.source
        if left.get(side, 0) > 0:
            left[side] -= 1
            given.append(order)
    return given
