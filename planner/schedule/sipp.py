"""Safe Interval Path Planning (Phillips & Likhachev, ICRA 2011) for one vehicle against a reservation table.

A search state is (node, safe interval of that node, leg): a maximal stretch of time in which nobody else
holds the node, and how many of the request's stops are done. Within one safe interval only the earliest
arrival matters (the vehicle can always wait longer there), so the search is A* on arrival time with the
exact conflict-free time to go as heuristic. The vehicle may wait at nodes, inside their safe intervals,
and drives every lane at its limit. A plan only ends in a safe interval that never ends, so the vehicle
can stay there for good.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Collection
from dataclasses import dataclass

from planner.corridor import NodeKind
from planner.exceptions import NoPlan, UnknownNode
from planner.routing import VehicleProfile
from planner.schedule.plans import INF, Step, Stop
from planner.schedule.table import ReservationTable

__all__ = ["plan_path"]

MAX_EXPANSIONS = 200_000
EPS = 1e-6  # s: times computed along different paths that should be equal may differ in the last bits


@dataclass(frozen=True)
class _State:
    node: str
    interval: int
    leg: int


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
    for node in (start, *goals, *(s.node for s in stops)):
        if node not in timed.graph:
            raise UnknownNode(node)

    graph = timed.graph

    def free(node: str) -> list[tuple[float, float]]:
        if meets and graph.nodes[node]["kind"] == NodeKind.HANDOFF:
            return table.safe_intervals(node, meets)
        return table.safe_intervals(node)

    open_goals = frozenset(g for g in goals if free(g) and free(g)[-1][1] == INF)
    if not open_goals:
        raise NoPlan(f"{vehicle_id}: every goal ({', '.join(sorted(goals))}) is taken for good by another vehicle")
    heuristic = _leg_heuristics(table, vehicle_id, stops, open_goals, profile)
    first = next((i for i, (a, b) in enumerate(free(start)) if a <= start_time < b), None)
    if first is None:
        holders = ", ".join(sorted(table.holders(start, start_time, start_time + 1e-6) - meets))
        raise NoPlan(f"{vehicle_id}: its start node {start} is held by {holders} at t={start_time:.1f}")
    if start not in heuristic[0]:
        raise NoPlan(f"{vehicle_id}: cannot reach {_describe(stops, goals)} from {start}")

    adjacency = timed.successors(profile)
    counter = itertools.count()
    root = _State(start, first, 0)
    best: dict[_State, float] = {root: start_time}
    parent: dict[_State, tuple[_State, float] | None] = {root: None}
    frontier = [(start_time + heuristic[0][start], -start_time, next(counter), root)]
    expansions = 0
    while frontier:
        _, negative_g, _, state = heapq.heappop(frontier)
        g = -negative_g
        if g > best[state]:
            continue
        node, leg = state.node, state.leg
        leave_by = free(node)[state.interval][1]
        if leg == len(stops) and node in open_goals and leave_by == INF:
            return _steps(state, parent, best, stops)
        expansions += 1
        if expansions > max_expansions:
            break

        moves: list[tuple[_State, float, float]] = []  # (successor, arrival, departure from here)
        if leg < len(stops) and node == stops[leg].node:
            stop = stops[leg]
            done = max(g + stop.dwell_s, stop.not_before)
            if done + timed.min_clearance(node) <= leave_by + EPS:
                moves.append((_State(node, state.interval, leg + 1), done, -1.0))
        for lane in adjacency.get(node, ()):
            latest = leave_by - lane.clearance_s + EPS
            if latest < g:
                continue
            intervals = free(lane.target)
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
                if depart <= latest and arrive < b and arrive + timed.min_clearance(lane.target) <= b + EPS:
                    moves.append((_State(lane.target, j, leg), arrive, depart))
        for successor, arrive, depart in moves:
            to_go = heuristic[successor.leg].get(successor.node)
            if to_go is not None and arrive < best.get(successor, INF):
                best[successor] = arrive
                parent[successor] = (state, depart)
                heapq.heappush(frontier, (arrive + to_go, -arrive, next(counter), successor))
    raise NoPlan(f"{vehicle_id}: no conflict-free plan from {start} to {_describe(stops, goals)} "
                 f"({expansions} states searched)")


def _leg_heuristics(table: ReservationTable, vehicle_id: str, stops: tuple[Stop, ...], goals: frozenset[str],
                    profile: VehicleProfile) -> list[dict[str, float]]:
    """Per leg: the fastest time from each node through the remaining stops (with their dwells) to a goal."""
    cost_to_go = table.timed.cost_to_go
    final = cost_to_go(goals, profile)
    tables, rest = [final], final
    for stop in reversed(stops):
        if stop.node not in rest:
            raise NoPlan(f"{vehicle_id}: cannot reach {_describe((), goals)} from stop {stop.node}")
        extra = stop.dwell_s + rest[stop.node]
        leg = {node: t + extra for node, t in cost_to_go(frozenset({stop.node}), profile).items()}
        tables.append(leg)
        rest = leg
    return tables[::-1]


def _steps(goal: _State, parent: dict, best: dict[_State, float], stops: tuple[Stop, ...]) -> list[Step]:
    chain: list[tuple[_State, float]] = []  # (state, depart time of the move into the next state)
    state: _State | None = goal
    depart = INF
    while state is not None:
        chain.append((state, depart))
        link = parent[state]
        state, depart = link if link is not None else (None, INF)
    chain.reverse()
    steps: list[Step] = []
    arrive, action = best[chain[0][0]], None
    for (state, depart), (successor, _) in itertools.pairwise(chain):
        if successor.node == state.node and successor.leg == state.leg + 1:  # a stop's dwell, same node
            action = stops[state.leg].action
            continue
        steps.append(Step(state.node, arrive, depart, action))
        arrive, action = best[successor], None
    steps.append(Step(goal.node, arrive, INF, action))
    return steps


def _describe(stops: tuple[Stop, ...], goals: Collection[str]) -> str:
    via = f" via {', '.join(s.node for s in stops)}" if stops else ""
    shown = sorted(goals)
    return f"{', '.join(shown[:3])}{' ...' if len(shown) > 3 else ''}{via}"
