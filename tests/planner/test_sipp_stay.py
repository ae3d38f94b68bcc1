"""plan_path's answer without a search for a vehicle to stay where it stands, against the search itself."""

from __future__ import annotations

import random

from planner.corridor import WAITING_KINDS
from planner.exceptions import NoPlan
from planner.routing import VehicleProfile
from planner.schedule.sipp import _search, plan_path
from sim.planning_scenarios import random_requests


def _answer(search, *args):
    try:
        return search(*args)
    except NoPlan as error:
        return f"NoPlan: {error}"


def test_a_vehicle_free_to_stay_is_the_search_s_own_answer(bac_luan_ii, planner):
    """A vehicle whose start is one of its goals (parked with a parking job, or with no job at all: every full
    replan asks this of most of the fleet) is answered without the A*, which would stop at its first state. Against
    a fleet's reservations, from every waiting place and some waypoints, at times before, during and after the
    holds there, with profiles that may or may not enter the start, and goal sets with and without other places:
    the same steps, or the same refusal, as the search."""
    graph = bac_luan_ii.graph
    planner.plan_all(random_requests(bac_luan_ii, 120, seed=7, moving_share=0.3))
    table = planner.table
    rng = random.Random(3)
    waiting = [n for n, kind in graph.nodes(data="kind") if kind in WAITING_KINDS]
    starts = rng.sample(waiting, 60) + rng.sample(sorted(set(graph) - set(waiting)), 20)
    profiles = [VehicleProfile(), VehicleProfile(cross_border=False), VehicleProfile(cross_border=False, home="CN")]
    stayed = searched = 0
    for start in starts:
        held = [t for h in table._holds.get(start, ()) for t in (h.start, h.end) if t < float("inf")]
        for start_time in [0.0, 1e5, *held, *(t + 0.5 for t in held)]:
            for profile in [*profiles, VehicleProfile(avoid=frozenset({start}))]:
                for goals in [(start,), (start, *rng.sample(waiting, 5))]:
                    args = (table, "agv_new", start, start_time, goals, profile)
                    answer = _answer(plan_path, *args)
                    expected = _answer(_search, *args, (), frozenset(), table.safe_intervals, 200_000)
                    assert answer == expected
                    if isinstance(answer, list) and len(answer) == 1:
                        stayed += 1
                    else:
                        searched += 1
    assert stayed > 100 and searched > 100  # both kinds of answer were compared
