"""A stalled vehicle that waits only for one of its goals to free is planned again when one does.

With 200 AGVs in ``target_2030``, 93 % of the replans of a stalled vehicle found every goal of its request taken
for good by other vehicles (its drop dock with another vehicle on it, a full parking, every gate lane of its side
with a vehicle waiting for clearance): the search gives up at once (:func:`planner.schedule.sipp.plan_path`), the
fallback leaves the vehicle where it stands, and the new plan, sent and fed to the release step's precedence
graph, is the one it had. Tried again every 5 s for hours, it was most of the fast mode's CPU
(docs/simulation.md, "Speed").

Such a vehicle, standing where it may wait without being in anyone's way (:data:`HARMLESS_WAITS`), is planned
again only once something its request is made of changes: the vehicles holding one of its goals for good (one
leaves, or its plan changes and ends elsewhere: the holders are read from the reservation table, whoever changed
it), its job (a new one, cleared at the gate, crossed, handed over), where it stands, its profile; and at least
every :data:`GOAL_WAIT_RECHECK_S` all the same. Not for a relay request with lanes to keep free or a meeting at
the pad: what frees those is more than the holds on the goals.
"""

from __future__ import annotations

from fleet.dispatch.tracks import GoalWait, Track
from planner.corridor import Corridor, NodeKind
from planner.schedule import PlanRequest
from planner.schedule.table import ReservationTable

__all__ = ["GOAL_WAIT_RECHECK_S", "HARMLESS_WAITS", "goal_wait", "request_key", "still_waits"]

#: A vehicle waiting for a goal is planned again at least this often even when nothing it waits for changed
#: (the safety net: a change this module does not see cannot keep it waiting for good).
GOAL_WAIT_RECHECK_S = 60.0
#: Where a vehicle standing waits for a goal without being in the way of a lane or a dock.
HARMLESS_WAITS = frozenset({NodeKind.PARKING, NodeKind.CHARGER, NodeKind.HOLDING, NodeKind.INSPECTION})

RequestKey = tuple[object, ...]  # (see GoalWait.key)


def request_key(track: Track, start: str) -> RequestKey:
    """What the dispatcher makes the vehicle's plan request of (``Dispatcher._request``), but for the time."""
    job = track.job
    if job is None:
        return (start, track.profile, track.unavailable)
    order = job.order
    return (start, track.profile, track.unavailable, job.kind, job.goals, job.cleared, job.crossed, job.partner,
            job.handed_over, None if order is None else (order.id, order.state, order.priority))


def _holders(table: ReservationTable, vehicle: str, goals: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(table.holders_for_good(goal) - {vehicle}) for goal in goals)


def goal_wait(table: ReservationTable, request: PlanRequest, track: Track, t: float) -> GoalWait | None:
    """The wait of a vehicle the planner just left stalled with ``request``, when every goal of it (its gates to
    wait at first) is held for good by another vehicle; None when one is free (stalled for another reason: a
    vehicle in its way for now) or when the request keeps lanes free or meets a partner (relay)."""
    if request.keep_free or request.meets:
        return None
    goals = request.hold_at or request.goals
    holders = _holders(table, track.id, goals)
    if not all(holders):
        return None
    return GoalWait(request_key(track, request.start), goals, holders, t)


def still_waits(track: Track, corridor: Corridor, table: ReservationTable, start: str, t: float) -> bool:
    """Planning the vehicle again now would find every goal taken as before and leave it where it stands: it
    stands at the end of its plan where it may wait harmlessly, its request (from ``start``) is made of the same,
    no goal's holders changed, and its last plan is younger than the safety net."""
    wait, plan = track.goal_wait, track.plan
    return wait is not None and plan is not None and t - wait.since < GOAL_WAIT_RECHECK_S \
        and track.reached == len(plan.steps) - 1 and corridor.nodes[plan.end].kind in HARMLESS_WAITS \
        and request_key(track, start) == wait.key and _holders(table, track.id, wait.goals) == wait.holders
