"""Safe Interval Path Planning (Phillips & Likhachev, ICRA 2011) for one vehicle against a reservation table.

A search state is (node, safe interval of that node, leg): a maximal stretch of time in which nobody else
holds the node, and how many of the request's stops are done. Within one safe interval only the earliest
arrival matters (the vehicle can always wait longer there), so the search is A* on arrival time with the
exact conflict-free time to go as heuristic. The vehicle may wait at nodes, inside their safe intervals,
and drives every lane at its limit. A plan only ends in a safe interval that never ends, so the vehicle
can stay there for good.

Nobody waits on the border line: a ``border`` or ``handoff`` node that is not the vehicle's stop (a relay
meeting) is passed without stopping. The search moves over it and the lane after it in one step, timed so
that both lanes and the node are free: waiting happens before it, on the vehicle's own side.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Callable, Collection

from planner.corridor import NodeKind
from planner.exceptions import NoPlan, UnknownNode
from planner.routing import VehicleProfile
from planner.schedule.lanes import LaneTiming
from planner.schedule.plans import INF, Step, Stop
from planner.schedule.table import ReservationTable

__all__ = ["may_stay", "plan_path"]

MAX_EXPANSIONS = 200_000
EPS = 1e-6  # s: times computed along different paths that should be equal may differ in the last bits


#: a search state: (node, index of its safe interval, how many stops are done). A plain tuple: a frozen
#: dataclass's generated ``__init__`` and ``__hash__`` are Python code, run for every state a search makes.
_State = tuple[str, int, int]


def plan_path(table: ReservationTable, vehicle_id: str, start: str, start_time: float, goals: Collection[str],
              profile: VehicleProfile = VehicleProfile(), stops: tuple[Stop, ...] = (),
              meets: frozenset[str] = frozenset(), max_expansions: int = MAX_EXPANSIONS) -> list[Step]:
    """The earliest-arriving conflict-free steps from ``start`` (reached at ``start_time``), through every
    stop in order, to stay for good at one of ``goals``. At a ``handoff`` pad the holds of ``meets`` (its
    relay partners) are no obstacle: the two vehicles meet there to transfer the container.

    Raises
    ------
    UnknownNode : a start, stop or goal is not in the corridor.
    NoPlan : the start is held by another vehicle then, every goal is taken for good, a goal cannot be
        reached by this vehicle, or the search limit was hit.
    """
    timed = table.timed
    known = timed.node_ids
    if start not in known or not known.issuperset(goals) or any(s.node not in known for s in stops):
        raise UnknownNode(next(node for node in (start, *goals, *(s.node for s in stops)) if node not in known))

    graph = timed.graph

    def free(node: str) -> list[tuple[float, float]]:
        if meets and graph.nodes[node]["kind"] == NodeKind.HANDOFF:
            return table.safe_intervals(node, meets)
        return table.safe_intervals(node)

    if may_stay(table, start, start_time, goals, profile, stops, meets):
        return [Step(start, start_time, INF)]  # what the search finds at once (its first state is a goal)
    return _search(table, vehicle_id, start, start_time, goals, profile, stops, meets, free, max_expansions)


def may_stay(table: ReservationTable, start: str, start_time: float, goals: Collection[str], profile: VehicleProfile,
             stops: tuple[Stop, ...] = (), meets: frozenset[str] = frozenset(),
             ignoring: frozenset[str] = frozenset()) -> bool:
    """The vehicle is to stay where it stands (no stops, its start one of its goals), may be there, and nobody
    holds the start from ``start_time`` on (but ``ignoring``, and at a handoff pad its relay partners ``meets``):
    :func:`plan_path` answers one step, there for good, without a search."""
    if stops or start not in goals:
        return False
    timed = table.timed
    if meets and timed.graph.nodes[start]["kind"] == NodeKind.HANDOFF:
        ignoring = ignoring | meets
    intervals = table.safe_intervals(start, ignoring)
    return bool(intervals) and intervals[-1][0] <= start_time and intervals[-1][1] == INF \
        and start in timed.successors(profile)


def _search(table: ReservationTable, vehicle_id: str, start: str, start_time: float, goals: Collection[str],
            profile: VehicleProfile, stops: tuple[Stop, ...], meets: frozenset[str], free: _Intervals,
            max_expansions: int) -> list[Step]:
    """The A* of :func:`plan_path` (its checks of the nodes done, ``free``: a node's safe intervals for this
    vehicle). A vehicle that is to stay where it stands, and may, is answered without it: the search would take
    that first state as the goal; ``test_a_vehicle_free_to_stay_is_the_search_s_own_answer`` holds them equal."""
    timed = table.timed
    known = _Known(free)
    open_goals = frozenset(g for g in goals if (intervals := known[g]) and intervals[-1][1] == INF)
    if not open_goals:
        raise NoPlan(f"{vehicle_id}: every goal ({', '.join(sorted(goals))}) is taken for good by another vehicle")
    heuristic = _leg_heuristics(table, vehicle_id, stops, open_goals, profile)
    first = next((i for i, (a, b) in enumerate(known[start]) if a <= start_time < b), None)
    if first is None:
        holders = ", ".join(sorted(table.holders(start, start_time, start_time + 1e-6) - meets))
        raise NoPlan(f"{vehicle_id}: its start node {start} is held by {holders} at t={start_time:.1f}")
    if start not in heuristic[0]:
        raise NoPlan(f"{vehicle_id}: cannot reach {_describe(stops, goals)} from {start}")

    adjacency = timed.successors(profile)
    on_the_line = timed.on_the_line
    min_clearance = timed.min_clearance
    n_stops = len(stops)
    counter = itertools.count()
    root = (start, first, 0)
    best: dict[_State, float] = {root: start_time}
    parent: dict[_State, tuple[_State, float, _Via] | None] = {root: None}
    frontier = [(start_time + heuristic[0][start], -start_time, next(counter), root)]
    expansions = 0
    while frontier:
        _, negative_g, _, state = heapq.heappop(frontier)
        g = -negative_g
        if g > best[state]:
            continue
        node, interval, leg = state
        leave_by = known[node][interval][1]
        if leg == n_stops and node in open_goals and leave_by == INF:
            return _steps(state, parent, best, stops)
        expansions += 1
        if expansions > max_expansions:
            break

        moves: list[tuple[_State, float, float, _Via]] = []  # (successor, arrival, departure from here, via)
        stopping = leg < n_stops and node == stops[leg].node
        stopped = leg > 0 and node == stops[leg - 1].node  # e.g. a relay meeting: it may stay on after it
        if stopping:
            stop = stops[leg]
            done = max(g + stop.dwell_s, stop.not_before)
            if done + min_clearance(node) <= leave_by + EPS:
                moves.append(((node, interval, leg + 1), done, -1.0, None))
        here_on_the_line = node in on_the_line
        leaves_at_once = here_on_the_line and not (stopping or stopped)  # starting on the border line
        for lane in adjacency.get(node, ()):
            latest = leave_by - lane.clearance_s + EPS
            if leaves_at_once:
                latest = min(latest, g + EPS)
            if latest < g:
                continue
            if lane.target in on_the_line and not (leg < n_stops and stops[leg].node == lane.target):
                if not here_on_the_line:
                    moves += [((w, j, leg), arrive, depart, via) for w, j, arrive, depart, via in
                              _over_the_line(table, known, adjacency, lane, g, latest)]
                continue
            intervals = known[lane.target]
            travel = lane.travel_s
            first_useful = max(0, bisect.bisect_right(intervals, (g + travel, INF)) - 1)
            for j in range(first_useful, len(intervals)):
                a, b = intervals[j]
                if a - travel > latest:
                    break
                if b <= g + travel:
                    continue
                depart = max(g, a - travel)
                if lane.group or lane.zones:
                    depart = table.lane_free_from(lane, depart)
                arrive = depart + travel
                if depart <= latest and arrive < b and arrive + min_clearance(lane.target) <= b + EPS:
                    moves.append(((lane.target, j, leg), arrive, depart, None))
        for successor, arrive, depart, via in moves:
            to_go = heuristic[successor[2]].get(successor[0])
            if to_go is not None and arrive < best.get(successor, INF):
                best[successor] = arrive
                parent[successor] = (state, depart, via)
                heapq.heappush(frontier, (arrive + to_go, -arrive, next(counter), successor))
    raise NoPlan(f"{vehicle_id}: no conflict-free plan from {start} to {_describe(stops, goals)} "
                 f"({expansions} states searched)")


_Via = tuple[str, float] | None  # a border-line node passed without stopping on the way, and when
_Intervals = Callable[[str], list[tuple[float, float]]]  # a node's safe intervals for this vehicle


class _Known(dict[str, list[tuple[float, float]]]):
    """The safe intervals of each node a search looks at, asked of ``free`` once: the table does not change during
    a search, and a node is looked at again for each of its intervals and stops done, and from each neighbour."""

    def __init__(self, free: _Intervals) -> None:
        super().__init__()
        self.free = free

    def __missing__(self, node: str) -> list[tuple[float, float]]:
        intervals = self[node] = self.free(node)
        return intervals


def _over_the_line(table: ReservationTable, free: _Known, adjacency: dict[str, list[LaneTiming]], lane: LaneTiming,
                   g: float, latest: float) -> list[tuple[str, int, float, float, _Via]]:
    """Moves over the border-line node at the end of ``lane`` without stopping there: for each lane on
    from it and each safe interval of that lane's end reachable from here, the earliest departure (no
    later than ``latest``) at which both lanes, their groups and zones, and the node in between are free
    for a vehicle that does not stop. (w, interval, arrival at w, departure from here, (node, time))."""
    line = lane.target
    out: list[tuple[str, int, float, float, _Via]] = []
    for onward in adjacency.get(line, ()):
        travel = lane.travel_s + onward.travel_s
        intervals = free[onward.target]
        for j in range(max(0, bisect.bisect_right(intervals, (g + travel, INF)) - 1), len(intervals)):
            a, b = intervals[j]
            if b <= g + travel:
                continue
            depart = _earliest_over(table, free[line], lane, onward, max(g, a - travel), latest)
            if depart is None:
                break
            arrive = depart + travel
            if arrive < b and arrive + table.timed.min_clearance(onward.target) <= b + EPS:
                out.append((onward.target, j, arrive, depart, (line, depart + lane.travel_s)))
    return out


def _earliest_over(table: ReservationTable, line_free: list[tuple[float, float]], lane: LaneTiming,
                   onward: LaneTiming, depart: float, latest: float) -> float | None:
    """The earliest departure >= ``depart`` onto ``lane`` then at once onto ``onward``, or None after
    ``latest``. Every constraint only moves the departure later, so repeat until none does."""
    while depart <= latest:
        start = depart
        if lane.group or lane.zones:
            depart = table.lane_free_from(lane, depart)
        if onward.group or onward.zones:
            depart = table.lane_free_from(onward, depart + lane.travel_s) - lane.travel_s
        there = depart + lane.travel_s
        k = bisect.bisect_right(line_free, (there, INF)) - 1
        if k < 0 or not line_free[k][0] <= there < line_free[k][1]:
            k += 1  # not free on arrival: wait for the next free interval
            if k >= len(line_free):
                return None
            depart = line_free[k][0] - lane.travel_s
        elif there + onward.clearance_s > line_free[k][1] + EPS:
            if k + 1 >= len(line_free):
                return None
            depart = line_free[k + 1][0] - lane.travel_s
        if depart <= start:
            return depart
    return None


def _leg_heuristics(table: ReservationTable, vehicle_id: str, stops: tuple[Stop, ...], goals: frozenset[str],
                    profile: VehicleProfile) -> tuple[dict[str, float], ...]:
    """Per leg: the fastest time from each node through the remaining stops (with their dwells) to a goal."""
    legs = table.timed.legs_to_go(tuple((stop.node, stop.dwell_s) for stop in stops), goals, profile)
    if legs.unreachable_from is not None:
        raise NoPlan(f"{vehicle_id}: cannot reach {_describe((), goals)} from stop {legs.unreachable_from}")
    return legs.tables


def _steps(goal: _State, parent: dict, best: dict[_State, float], stops: tuple[Stop, ...]) -> list[Step]:
    chain: list[tuple[_State, float, _Via]] = []  # (state, depart time of the move into the next state, via)
    state: _State | None = goal
    depart, via = INF, None
    while state is not None:
        chain.append((state, depart, via))
        link = parent[state]
        state, depart, via = link if link is not None else (None, INF, None)
    chain.reverse()
    steps: list[Step] = []
    arrive, action = best[chain[0][0]], None
    for ((node, _, leg), depart, via), (successor, _, _) in itertools.pairwise(chain):
        if successor[0] == node and successor[2] == leg + 1:  # a stop's dwell, same node
            action = stops[leg].action
            continue
        steps.append(Step(node, arrive, depart, action))
        if via is not None:
            steps.append(Step(via[0], via[1], via[1]))
        arrive, action = best[successor], None
    steps.append(Step(goal[0], arrive, INF, action))
    return steps


def _describe(stops: tuple[Stop, ...], goals: Collection[str]) -> str:
    via = f" via {', '.join(s.node for s in stops)}" if stops else ""
    shown = sorted(goals)
    return f"{', '.join(shown[:3])}{' ...' if len(shown) > 3 else ''}{via}"
