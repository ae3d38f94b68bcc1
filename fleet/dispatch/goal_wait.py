"""A stalled vehicle that waits only for one of its goals to free is planned again when one does.

With 200 AGVs in ``target_2030``, 93 % of the replans of a stalled vehicle found every goal of its request taken
for good by other vehicles (its drop dock with another vehicle on it, a full parking, every gate lane of its side
with a vehicle waiting for clearance): the search gives up at once (:func:`planner.schedule.sipp.plan_path`), the
fallback leaves the vehicle where it stands, and the new plan, sent and fed to the release step's precedence
graph, is the one it had. Tried again every 5 s for hours, it was most of the fast mode's CPU
(docs/simulation.md, "Speed").

Such a vehicle, left by the planner's fallback standing (or on its way to stand) where it may wait without
being in anyone's way (:data:`HARMLESS_WAITS`), is planned again only once something its request is made of
changes: the vehicles holding one of its goals for good (one leaves, or its plan changes and ends elsewhere: the
holders are read from the reservation table, whoever changed it), its job (a new one, cleared at the gate,
crossed, handed over), its plan, its profile; and at least every :data:`GOAL_WAIT_RECHECK_S` all the same. Nor
does it make the whole fleet be planned again. Not for a relay request with gate lanes to keep free or a meeting
at the pad (what frees those is more than the holds on the goals), nor for a vehicle the fallback left on a dock,
a gate lane or a waypoint (its next fallback may take it to a bay that freed meanwhile).

An earlier try (``fasttick``, taken out) compared a per-node count of holds for good begun or ended: a retimed
plan (``FleetPlanner.delay``) counted as a change, so a relay deliverer was woken while driving, its replan from
a base end it had not reached yet bumped the deliverer planned through that node off its gate lane (the
planner's ``replan`` releases the vehicles holding the start node), and the bumped one, its gate taken, was sent
past its gates by the fallback: both lanes to the pad were closed to receivers for good. Comparing the holders
themselves does not wake on a retime; a relay request keeping a lane free is left out.
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


def request_key(track: Track) -> RequestKey:
    """What the dispatcher makes the vehicle's plan request of (``Dispatcher._request``), but for where and when
    it starts (the plan it waits on, to its waiting place, says that)."""
    job = track.job
    if job is None:
        return (track.profile, track.unavailable)
    order = job.order
    return (track.profile, track.unavailable, job.kind, job.goals, job.cleared, job.crossed, job.partner,
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
    return GoalWait(request_key(track), goals, holders, t)


def still_waits(track: Track, corridor: Corridor, table: ReservationTable, t: float | None) -> bool:
    """Planning the vehicle again now would find every goal taken as before: the plan the planner left it with
    (it is cleared on every new plan) takes it to, or leaves it at, a place where it may wait harmlessly, its
    request is made of the same, no goal's holders changed, and (unless ``t`` is None) that plan is younger than
    the safety net."""
    wait, plan = track.goal_wait, track.plan
    return wait is not None and plan is not None and (t is None or t - wait.since < GOAL_WAIT_RECHECK_S) \
        and corridor.nodes[plan.end].kind in HARMLESS_WAITS and request_key(track) == wait.key \
        and _holders(table, track.id, wait.goals) == wait.holders
