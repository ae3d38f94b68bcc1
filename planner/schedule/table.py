"""The reservation table: which vehicle holds which node, and which direction uses which lane group, when.

Rules kept (docs/planning.md):
- a node is held by one vehicle at a time, from its arrival until ``clearance`` after it leaves along a
  lane (the vehicle's length plus standstill gap at that lane's speed, plus the headway); the last node
  of a plan is held for good;
- every lane is driven at its limit, so the spacing a node gives is kept all along the lane and nobody
  overtakes;
- a lane group (a single physical lane used both ways) carries one direction at a time: a vehicle holds it
  from leaving the lane's start until ``clearance`` after reaching its end;
- a conflict zone (where lanes meet without a node) carries one lane at a time, held the same way: the
  vehicles following each other on that lane keep the lane's spacing, those on other lanes wait.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple, TypeVar

from planner.schedule.lanes import LaneTiming, TimedGraph
from planner.schedule.plans import INF, TimedPlan

__all__ = ["ReservationTable"]

Interval = tuple[float, float]
K = TypeVar("K")
V = TypeVar("V")


class _Hold(NamedTuple):
    """A vehicle holding a node. Named tuples, so that the sorted lists are kept with the tuple's own comparison
    (a dataclass's ``order=True`` compares through Python code: every ``bisect`` of a busy day's planning)."""

    start: float
    end: float
    vehicle: str


class _GroupUse(NamedTuple):
    """A vehicle on a lane group (``forward``: its orientation) or a conflict zone (``forward``: its lane)."""

    start: float
    end: float
    forward: bool | str
    vehicle: str


class ReservationTable:
    def __init__(self, timed: TimedGraph) -> None:
        self.timed = timed
        self.plans: dict[str, TimedPlan] = {}
        self._holds: dict[str, list[_Hold]] = defaultdict(list)  # sorted by start; disjoint but for relay meetings
        self._groups: dict[str, list[_GroupUse]] = defaultdict(list)
        self._zones: dict[str, list[_GroupUse]] = defaultdict(list)
        self._by_vehicle: dict[str, list[tuple[str, _Hold | _GroupUse]]] = defaultdict(list)
        self._free: dict[str, list[Interval]] = {}  # cache of safe intervals, per node

    @classmethod
    def of_places(cls, timed: TimedGraph, places: Iterable[tuple[str, str, float, float]]) -> ReservationTable:
        """A table where each vehicle of ``places``, (vehicle, node, since, until), holds just that place, as
        :meth:`hold_place` leaves it (one place a vehicle): each node's holds sorted once, where holding them one by
        one inserted each (every full replan of a busy day starts so, with 200 vehicles)."""
        table = cls(timed)
        for vehicle, node, since, until in places:
            hold = _Hold(since, until, vehicle)
            table._holds[node].append(hold)
            table._by_vehicle[vehicle].append((node, hold))
        for holds in table._holds.values():
            holds.sort()
        return table

    def copy(self) -> ReservationTable:
        """A table with the same reservations, to be written apart from this one (each round of a full replan
        starts from the places every vehicle holds before it is planned: copied, not held again one by one)."""
        twin = ReservationTable(self.timed)
        twin.plans = dict(self.plans)
        twin._holds, twin._groups, twin._zones = _copied(self._holds), _copied(self._groups), _copied(self._zones)
        # a vehicle's list is shared, not copied: no table changes one in place. Every write for a vehicle
        # (:meth:`reserve`, :meth:`hold_place`) first releases it, which takes the list out of this table's dict
        # alone, then appends to a new one (some 200 lists for each of some 6,000 copies a day)
        twin._by_vehicle = defaultdict(list, self._by_vehicle)
        twin._free = dict(self._free)
        return twin

    # --- writing ---------------------------------------------------------------------------------------

    def reserve(self, plan: TimedPlan) -> None:
        """Reserve every node and lane group the plan uses, replacing what the vehicle held before."""
        vehicle = plan.vehicle_id
        self.release(vehicle)
        lanes = self.timed.lanes
        for here, nxt in itertools.pairwise(plan.steps):
            lane = lanes[(here.node, nxt.node)]
            self._hold(here.node, _Hold(here.arrive, here.depart + lane.clearance_s, vehicle))
            if lane.group or lane.zones:
                self._use_lane(lane, here.depart, nxt.arrive + lane.clearance_s, vehicle)
        last = plan.steps[-1]
        self._hold(last.node, _Hold(last.arrive, INF, vehicle))
        self.plans[vehicle] = plan

    def hold_place(self, vehicle: str, node: str, since: float, until: float = INF) -> None:
        """The vehicle stands at ``node`` with no plan (parked, failed, or not yet planned): nobody else may
        use the node from ``since`` to ``until`` (for good by default)."""
        self.release(vehicle)
        self._hold(node, _Hold(since, until, vehicle))

    def hold_way(self, vehicle: str, way: Sequence[str], since: float) -> None:
        """The vehicle stands at ``way[0]`` with no plan, and may still drive on along the rest of ``way`` (a way
        released to it that it has not given up): from ``since`` on, for good, nobody else may use those nodes, nor
        the lanes between them the other way or across (their lane groups and conflict zones)."""
        self.hold_place(vehicle, way[0], since)
        for node in list(dict.fromkeys(way))[1:]:
            self._hold(node, _Hold(since, INF, vehicle))
        for here, nxt in itertools.pairwise(way):
            lane = self.timed.lanes.get((here, nxt))
            if lane is not None:
                self._use_lane(lane, since, INF, vehicle)

    def users_of_way(self, way: Sequence[str], since: float) -> set[str]:
        """The vehicles that hold a node of ``way``, or use a lane group or conflict zone of a lane between two of
        its nodes, at some time from ``since`` on."""
        users = {h.vehicle for node in way for h in self._holds.get(node, ()) if h.end > since}
        for here, nxt in itertools.pairwise(way):
            lane = self.timed.lanes.get((here, nxt))
            if lane is None:
                continue
            uses = itertools.chain(self._groups.get(lane.group, ()) if lane.group else (),
                                   *(self._zones.get(zone, ()) for zone in lane.zones))
            users.update(use.vehicle for use in uses if use.end > since)
        return users

    def holds_just(self, vehicle: str, node: str, since: float) -> bool:
        """The vehicle has no plan and holds ``node`` for good from ``since``, nothing else (as :meth:`hold_place`
        left it)."""
        held = self._by_vehicle.get(vehicle)
        return vehicle not in self.plans and held is not None and len(held) == 1 \
            and held[0] == (node, _Hold(since, INF, vehicle))

    def reserve_held(self, plan: TimedPlan) -> None:
        """Reserve a plan to stay for good where the vehicle holds just that (:meth:`holds_just` with the plan's
        one node and arrival): what :meth:`reserve` would write is there already."""
        self.plans[plan.vehicle_id] = plan

    def release(self, vehicle: str) -> None:
        """Forget everything the vehicle holds."""
        for key, record in self._by_vehicle.pop(vehicle, ()):
            if isinstance(record, _Hold):
                _remove_sorted(self._holds[key], record)
                self._free.pop(key, None)
            elif isinstance(record.forward, bool):
                _remove_sorted(self._groups[key], record)
            else:
                _remove_sorted(self._zones[key], record)
        self.plans.pop(vehicle, None)

    def _use_lane(self, lane: LaneTiming, start: float, end: float, vehicle: str) -> None:
        """The vehicle uses the lane's group (in its direction) and its conflict zones from ``start`` to ``end``."""
        if lane.group:
            use = _GroupUse(start, end, lane.forward, vehicle)
            bisect.insort(self._groups[lane.group], use)
            self._by_vehicle[vehicle].append((lane.group, use))
        for zone in lane.zones:
            use = _GroupUse(start, end, lane.way, vehicle)
            bisect.insort(self._zones[zone], use)
            self._by_vehicle[vehicle].append((zone, use))

    def _hold(self, node: str, hold: _Hold) -> None:
        bisect.insort(self._holds[node], hold)
        self._by_vehicle[hold.vehicle].append((node, hold))
        self._free.pop(node, None)

    # --- reading ---------------------------------------------------------------------------------------

    def safe_intervals(self, node: str, ignoring: frozenset[str] = frozenset()) -> list[Interval]:
        """The node's free intervals in time order (the holds of the vehicles ``ignoring`` aside)."""
        if not ignoring and node in self._free:
            return self._free[node]
        free, t = [], 0.0
        for hold in self._holds.get(node, ()):
            if hold.vehicle in ignoring:
                continue
            if hold.start > t:
                free.append((t, hold.start))
            t = max(t, hold.end)
        if t < INF:
            free.append((t, INF))
        if not ignoring:
            self._free[node] = free
        return free

    def holders(self, node: str, start: float, end: float) -> set[str]:
        """Vehicles holding ``node`` at some time in [start, end)."""
        return {h.vehicle for h in self._holds.get(node, ()) if h.start < end and start < h.end}

    def holders_for_good(self, node: str) -> set[str]:
        """Vehicles that hold ``node`` for good from some time on (a breakdown, a plan's end, a parked one)."""
        return {h.vehicle for h in self._holds.get(node, ()) if h.end == INF}

    def is_free(self, node: str, start: float, end: float) -> bool:
        return not any(h.start < end and start < h.end for h in self._holds.get(node, ()))

    def next_holder(self, node: str, vehicle: str, start: float, ignoring: frozenset[str] = frozenset()
                    ) -> tuple[str, float] | None:
        """Who holds ``node`` next after ``vehicle``'s hold that starts at ``start`` (the vehicles
        ``ignoring`` aside): (vehicle, start)."""
        holds = self._holds.get(node, [])
        index = bisect.bisect_right(holds, _Hold(start, INF, vehicle))
        return next(((h.vehicle, h.start) for h in holds[index:] if h.vehicle != vehicle and h.vehicle not in ignoring),
                    None)

    def later_opposite_uses(self, group: str, vehicle: str, start: float, forward: bool) -> list[tuple[str, float]]:
        """The uses of ``group`` in the other direction after ``vehicle``'s that starts at ``start``."""
        return _later_other(self._groups.get(group, []), vehicle, start, forward)

    def later_zone_uses(self, zone: str, vehicle: str, start: float, way: str) -> list[tuple[str, float]]:
        """The uses of conflict zone ``zone`` from other lanes after ``vehicle``'s that starts at ``start``."""
        return _later_other(self._zones.get(zone, []), vehicle, start, way)

    def group_free_from(self, group: str, forward: bool, t: float, duration: float) -> float:
        """The earliest time >= t at which the group can be used for ``duration`` in direction ``forward``
        without overlapping any use in the other direction."""
        return _free_from(self._groups.get(group, ()), forward, t, duration)

    def lane_free_from(self, lane: LaneTiming, t: float) -> float:
        """The earliest departure >= t onto ``lane`` that overlaps no use of its lane group in the other
        direction and no use of its conflict zones from another lane."""
        duration = lane.travel_s + lane.clearance_s
        while True:
            start = t
            if lane.group:
                t = _free_from(self._groups.get(lane.group, ()), lane.forward, t, duration)
            for zone in lane.zones:
                t = _free_from(self._zones.get(zone, ()), lane.way, t, duration)
            if t == start:
                return t


def _free_from(uses, way: bool | str, t: float, duration: float) -> float:
    """The earliest time >= t at which [t, t + duration) overlaps no use of another way."""
    for use in uses:  # sorted by start; t only moves later, so one pass will do
        if use.start >= t + duration:
            break
        if use.forward != way and use.end > t:
            t = use.end
    return t


def _later_other(uses: list[_GroupUse], vehicle: str, start: float, way: bool | str) -> list[tuple[str, float]]:
    index = bisect.bisect_right(uses, _GroupUse(start, INF, way, vehicle))
    return [(u.vehicle, u.start) for u in uses[index:] if u.forward != way and u.vehicle != vehicle]


def _copied(lists: dict[K, list[V]]) -> defaultdict[K, list[V]]:
    """Each list copied (a comprehension: a third of the time of a generator fed to ``dict.update``; a busy day
    copies a table some 6,000 times)."""
    return defaultdict(list, {key: items.copy() for key, items in lists.items()})


def _remove_sorted(items: list, item) -> None:
    """Remove ``item`` from a sorted list in O(log n) comparisons (``list.remove`` compares every one)."""
    index = bisect.bisect_left(items, item)
    if index == len(items) or items[index] != item:
        raise ValueError(f"{item} is not held")
    del items[index]
