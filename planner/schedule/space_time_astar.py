"""The baseline the benchmark compares SIPP with: space-time A* without safe intervals.

A state is (node, time); the vehicle may wait in fixed ``wait_step`` increments or drive a lane, each move
checked against the same reservation table. Correct under the same rules, but a long wait costs one state
per step, where SIPP needs one per safe interval.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection

from planner.corridor import NodeKind
from planner.exceptions import NoPlan, UnknownNode
from planner.routing import VehicleProfile
from planner.schedule.plans import INF, Step, Stop
from planner.schedule.table import ReservationTable

__all__ = ["plan_path_space_time"]

MAX_EXPANSIONS = 2_000_000


def plan_path_space_time(table: ReservationTable, vehicle_id: str, start: str, start_time: float,
                         goals: Collection[str], profile: VehicleProfile = VehicleProfile(),
                         stops: tuple[Stop, ...] = (), meets: frozenset[str] = frozenset(),
                         wait_step: float = 1.0, max_expansions: int = MAX_EXPANSIONS) -> list[Step]:
    """Same contract as :func:`planner.schedule.sipp.plan_path` (stops and relay meetings excepted)."""
    if stops or meets:
        raise ValueError("the space-time A* baseline plans plain trips only (no stops, no relay meetings)")
    timed = table.timed
    for node in (start, *goals):
        if node not in timed.graph:
            raise UnknownNode(node)
    if timed.graph.nodes[start]["kind"] == NodeKind.HANDOFF:
        raise ValueError("the baseline does not start at a handoff pad")
    open_goals = frozenset(g for g in goals if table.is_free(g, start_time, INF) or g == start)
    heuristic = timed.cost_to_go(open_goals, profile) if open_goals else {}
    if start not in heuristic:
        raise NoPlan(f"{vehicle_id}: no goal free for good can be reached from {start}")
    adjacency = timed.successors(profile)
    counter = itertools.count()
    frontier = [(start_time + heuristic[start], next(counter), start_time, start)]
    root = (start, round(start_time, 3))
    parent: dict[tuple[str, float], tuple[str, float] | None] = {root: None}  # keys: (node, time to 1 ms)
    exact: dict[tuple[str, float], float] = {root: start_time}
    expansions = 0
    while frontier and expansions < max_expansions:
        _, _, t, node = heapq.heappop(frontier)
        if node in open_goals and table.is_free(node, t, INF):
            return _steps((node, round(t, 3)), parent, exact)
        expansions += 1
        waits = node not in timed.on_the_line and table.is_free(node, t, t + wait_step)  # never on the border line
        moves = [(node, t + wait_step)] if waits else []
        for lane in adjacency.get(node, ()):
            arrive = t + lane.travel_s
            if (table.is_free(node, t, t + lane.clearance_s) and table.is_free(lane.target, arrive, arrive + 1e-6)
                    and table.lane_free_from(lane, t) == t):
                moves.append((lane.target, arrive))
        for successor, arrive in moves:
            key = (successor, round(arrive, 3))
            if key not in parent and successor in heuristic:
                parent[key] = (node, round(t, 3))
                exact[key] = arrive
                heapq.heappush(frontier, (arrive + heuristic[successor], next(counter), arrive, successor))
    raise NoPlan(f"{vehicle_id}: space-time A* found no plan from {start} ({expansions} states searched)")


def _steps(goal: tuple[str, float], parent: dict, exact: dict) -> list[Step]:
    """States in order, consecutive states at one node (waits) merged into one step."""
    chain = [goal]
    while parent[chain[-1]] is not None:
        chain.append(parent[chain[-1]])
    chain.reverse()
    stays = [list(stay) for _, stay in itertools.groupby(chain, key=lambda state: state[0])]
    return [Step(stay[0][0], exact[stay[0]], exact[stay[-1]] if index < len(stays) - 1 else INF)
            for index, stay in enumerate(stays)]
