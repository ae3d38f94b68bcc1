"""Prioritized planning of a whole fleet, and incremental replanning of the vehicles a change affects.

Vehicles are planned one after another, each with SIPP against the reservations of those planned before
it (Silver 2005; Čáp et al. 2015 for why it works in well-formed infrastructures such as ours, where every
plan ends at a node where the vehicle may wait indefinitely). Vehicles not yet planned are obstacles where
they stand; when one blocks a vehicle's way it is promoted and planned first (docs/planning.md §4).
Afterwards: ``delay`` shifts times along the plans' order, ``replan`` searches again for one vehicle (and
those planned where it now stands), ``fail`` routes everyone around a breakdown.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import networkx as nx

from planner.corridor import WAITING_KINDS, NodeKind
from planner.exceptions import NoPlan, PlanInterrupted
from planner.routing import VehicleProfile
from planner.schedule.lanes import TimedGraph
from planner.schedule.plans import INF, FollowingRules, PlanRequest, Step, Stop, TimedPlan
from planner.schedule.retime import retime
from planner.schedule.sipp import may_stay, plan_path
from planner.schedule.space_time_astar import plan_path_space_time
from planner.schedule.table import ReservationTable

__all__ = ["FleetPlan", "FleetPlanner", "Requests"]

#: a search: (table, vehicle, start, start time, goals, profile, stops, meets) -> steps
Search = Callable[[ReservationTable, str, str, float, Collection[str], VehicleProfile, tuple[Stop, ...],
                   frozenset[str]], list[Step]]
SEARCHES: dict[str, Search] = {"sipp": plan_path, "space_time_astar": plan_path_space_time}
MAX_ROUNDS = 4  # full replans with the stalled vehicles moved to the front
MAX_BUMP_DEPTH = 8  # how far "plan me first, them again" may cascade in a full replan


@dataclass
class FleetPlan:
    """Plans for every vehicle; ``stalled`` names those that could not get what they asked for and why
    (each still has a safe plan: it stays where it is or goes to the nearest place it may wait)."""

    plans: dict[str, TimedPlan] = field(default_factory=dict)
    stalled: dict[str, str] = field(default_factory=dict)


class Requests(dict[str, PlanRequest]):
    """The requests by vehicle, keeping count of the places each speaks for (:meth:`FleetPlanner._reserve_fallback`:
    where a stalled vehicle may not wait): the place it starts from, and its goal, or each of its goals when it
    has several (a parking job: every spot of a side). Kept up to date as requests come and go, so that the
    places nobody else speaks for are found with a look at each place, where gathering them went through every
    other vehicle's request for each of some 160,000 stalls in a day of 200 vehicles."""

    def __init__(self, requests: Iterable[PlanRequest] = ()) -> None:
        super().__init__()
        self._sole: Counter[str] = Counter()  # how many requests start at a place or have it as their one goal
        self._among: Counter[str] = Counter()  # how many have it among several goals
        #: by sequence of places asked about: those nobody speaks for, and each place's position (free_of_others)
        self._unspoken: dict[tuple[str, ...], tuple[list[str], dict[str, int]]] = {}
        super().update((request.vehicle_id, request) for request in requests)  # (counted at once: a full plan's)
        spoken_for = [_spoken_for(request) for request in self.values()]
        # (one update of each counter for all the requests: ``Counter.update`` is Python, asked 400 times a full plan)
        self._sole.update(itertools.chain.from_iterable(sole for sole, _ in spoken_for))
        self._among.update(itertools.chain.from_iterable(among for _, among in spoken_for))

    def __setitem__(self, vehicle: str, request: PlanRequest) -> None:
        before = self.get(vehicle)
        super().__setitem__(vehicle, request)
        if before is not None and before.start == request.start and before.goals == request.goals:
            return  # the same places spoken for (a stalled vehicle asking again, most replans): counted already
        self._count(before, -1)
        self._count(request, 1)

    def __delitem__(self, vehicle: str) -> None:
        self._count(self.get(vehicle), -1)
        super().__delitem__(vehicle)

    def pop(self, vehicle: str, *default: PlanRequest | None) -> PlanRequest | None:  # type: ignore[override]
        if vehicle in self:
            request = self[vehicle]
            del self[vehicle]
            return request
        return super().pop(vehicle, *default)

    def __reduce__(self) -> tuple[type[Requests], tuple[list[PlanRequest]]]:
        """Copied and pickled as its requests, counted afresh (a dict subclass is otherwise rebuilt item by item
        after its counters were restored, which counts every place twice)."""
        return Requests, (list(self.values()),)

    def _count(self, request: PlanRequest | None, sign: int) -> None:
        if request is None:
            return
        for places, counts in zip(_spoken_for(request), (self._sole, self._among), strict=True):
            for place in places:
                count = counts[place] + sign
                if count:
                    counts[place] = count
                else:
                    del counts[place]  # (the keys are the places spoken for: free_of_others)
                if count == (sign > 0):  # a place newly spoken for, or no longer
                    self._unspoken.clear()

    def free_of_others(self, vehicle: str, start: str, places: Sequence[str]) -> list[str]:
        """Those of ``places`` no request but ``vehicle``'s speaks for, counting nobody's several goals against
        ``start`` (where ``vehicle`` stands is not taken from it for a vehicle that may go to any of several
        places). Asked with every waiting place of the map for each stalled vehicle: the places nobody speaks for
        are kept from one call to the next until a place is newly spoken for or no longer, and those spoken for by
        this vehicle alone (or among several goals, where it stands) put in at their position. The list returned
        is not to be changed."""
        asked = tuple(places)
        known = self._unspoken.get(asked)
        if known is None:
            sole, among = self._sole, self._among
            known = self._unspoken[asked] = ([p for p in asked if p not in sole and p not in among],
                                             {p: k for k, p in enumerate(asked)})
        free, position = known
        own = self.get(vehicle)
        own_sole, own_among = _spoken_for(own) if own is not None else (frozenset(), frozenset())
        for place in own_sole | own_among | {start}:
            if place in position and self._free_to(place, start, own_sole, own_among) \
                    and (place in self._sole or place in self._among):  # (not in ``free`` already)
                if free is known[0]:
                    free = free.copy()
                bisect.insort(free, place, key=position.__getitem__)
        return free

    def _free_to(self, place: str, start: str, own_sole: frozenset[str], own_among: frozenset[str]) -> bool:
        """No request but the one of ``own_sole`` and ``own_among`` speaks for ``place`` (but among several goals,
        where it stands: ``start``). (Its own request, when it has one, is counted: once.)"""
        return self._sole.get(place, 0) == (place in own_sole) \
            and (place == start or self._among.get(place, 0) == (place in own_among))


def _spoken_for(request: PlanRequest) -> tuple[frozenset[str], frozenset[str]]:
    """The places ``request`` speaks for: (where it starts and its one goal, its several goals)."""
    if len(request.goals) == 1:
        return frozenset((request.start, request.goals[0])), frozenset()
    return frozenset((request.start,)), frozenset(request.goals)


class FleetPlanner:
    """Keeps the fleet's reservations between calls: a full replan, then cheap incremental replans.

    Parameters
    ----------
    graph : the corridor graph (:func:`planner.corridor.build_graph`).
    rules : spacing between vehicles.
    method : ``"sipp"`` (Safe Interval Path Planning), or ``"space_time_astar"``, the benchmark's baseline.
    """

    def __init__(self, graph: nx.DiGraph, rules: FollowingRules = FollowingRules(), method: str = "sipp") -> None:
        if method not in SEARCHES:
            raise ValueError(f"unknown search method {method!r}: choose one of {', '.join(SEARCHES)}")
        self.search = SEARCHES[method]
        self.timed = TimedGraph(graph, rules)
        self.table = ReservationTable(self.timed)
        #: the places a vehicle may wait at, in the graph's order (the last fallback's candidates)
        self._waiting_places = tuple(n for n, kind in graph.nodes(data="kind") if kind in WAITING_KINDS)
        self._may_wait_at = frozenset(self._waiting_places)
        self._handoff_pads = frozenset(n for n, kind in graph.nodes(data="kind") if kind == NodeKind.HANDOFF)
        self.requests = Requests()
        #: in a full replan, who stands parked at each place (their requests start there: they may block others)
        self._parked_at: dict[str, list[str]] = {}

    @property
    def plans(self) -> dict[str, TimedPlan]:
        return self.table.plans

    # --- full replan -------------------------------------------------------------------------------------

    def plan_all(self, requests: Iterable[PlanRequest], rounds: int = MAX_ROUNDS,
                 should_stop: Callable[[], bool] | None = None,
                 broken_down: Mapping[str, tuple[Sequence[str], float]] | None = None) -> FleetPlan:
        """Forget every reservation and plan every vehicle: highest priority first, then vehicles on the
        road (they cannot wait there for long), then by start time. Should some vehicle stall, plan again
        with the stalled ones first (up to ``rounds`` times) and keep the best round. The vehicles
        ``broken_down`` (with no request) hold, as :meth:`fail` has them hold, the way each may still drive from
        where it stands, from the given time on: nobody is planned through it.

        ``should_stop`` is asked before each vehicle is planned: once it says so, the plan is given up and
        :class:`PlanInterrupted` raised, the reservations and requests left as they were before the call (a
        full plan takes up to a second for 200 vehicles; its caller may have something more urgent to do)."""
        requests = list(requests)
        duplicates = {vid for vid, n in Counter(r.vehicle_id for r in requests).items() if n > 1}
        if duplicates:
            raise ValueError(f"more than one request for {', '.join(sorted(duplicates))}")
        order = sorted(requests, key=lambda r: (-r.priority, self._parked(r), r.start_time, r.vehicle_id))
        before = self.table, self.requests  # each round plans into a table of its own (_plan_in_order)
        best: tuple[FleetPlan, ReservationTable] | None = None
        try:
            places = self._places_held(order)
            for vehicle, (way, since) in (broken_down or {}).items():
                places.hold_way(vehicle, way, since)
            staying = self._staying_parked(requests)
            settled = self._settle(requests, staying, places)
            self.requests = Requests(order)  # read, never written, by the rounds: counted once for all of them
            for _ in range(rounds):
                result = self._plan_in_order(order, places, should_stop, settled)
                if best is None or len(result.stalled) < len(best[0].stalled):
                    best = (result, self.table)
                if not result.stalled:
                    break
                if all(self._stalls_in_any_order(self.requests[vid], staying) for vid in result.stalled):
                    break  # every round stalls these again: none can stall fewer than this one
                reordered = [r for r in order if r.vehicle_id in result.stalled] + [
                    r for r in order if r.vehicle_id not in result.stalled]
                if reordered == order:
                    break  # the stalled ones were first already: the same order would plan the same again
                order = reordered
        except PlanInterrupted:
            self.table, self.requests = before
            raise
        assert best is not None  # rounds >= 1
        result, self.table = best
        return result

    def _staying_parked(self, requests: list[PlanRequest]) -> dict[str, str]:
        """The vehicles whose plan is to stay where they stand parked, in any round of a full replan, by place:
        each is to stay there (and may), alone there, with nothing to do but there (a pickup at the dock it stands
        on, say). Its place is held for good from the start of the round, so nobody is planned through it, nobody's
        bump releases it (only the holders of another's start are), and its own plan ends there for good."""
        starts = Counter(r.start for r in requests)
        return {r.start: r.vehicle_id for r in requests
                if r.goals == (r.start,) and all(stop.node == r.start for stop in r.stops) and not r.hold_at
                and self._parked(r) and starts[r.start] == 1 and r.start in self.timed.successors(r.profile)}

    def _settle(self, requests: list[PlanRequest], staying: dict[str, str], places: ReservationTable) -> set[str]:
        """Those of the vehicles staying parked (:meth:`_staying_parked`) whose plan every round would answer with
        :meth:`_stays_as_held`, whatever its order: their plans to stay are written into ``places`` now, and the
        rounds leave them out. Their place is held for good from their start, so no vehicle planned in a round comes
        there after them and :func:`may_stay` answers the same at any point of a round; but a relay partner may (a
        meeting shares the pad), so a vehicle at a handoff pad or someone's partner is planned in the rounds as
        before. Most of a busy day's 200 vehicles are these, in each of some 2,400 full plans."""
        partners = frozenset().union(*(r.meets for r in requests))
        by_id = {r.vehicle_id: r for r in requests}
        settled = set()
        for vehicle in staying.values():
            request = by_id[vehicle]
            if request.meets or vehicle in partners or request.start in self._handoff_pads \
                    or not self._stays_as_held_in_places(request):
                continue
            places.reserve_held(_stay_plan(request))
            settled.add(vehicle)
        return settled

    def _stays_as_held_in_places(self, request: PlanRequest) -> bool:
        """What :meth:`_stays_as_held` answers, asked of the table of places :meth:`_settle` writes into, for a vehicle
        staying parked with no relay partner, known from its request alone: it holds just its place there, for good
        from its start (:meth:`_places_held`), nobody else holds that place (it stands there alone), so the place is
        free to it from time 0 on; it may be there (:meth:`_staying_parked`), its one goal is that place and it has no
        ``hold_at``. What is left: the search is SIPP, and :func:`may_stay` wants no stops and a start time >= 0.
        (Asked of the table, some 150 vehicles in each of 2,400 full plans a day took 1 % of the day's CPU.)"""
        return self.search is plan_path and not request.stops and request.start_time >= 0.0

    @staticmethod
    def _stalls_in_any_order(request: PlanRequest, staying: dict[str, str]) -> bool:
        """Every goal of the request (its gates, when it is to wait at them) is the place of a vehicle staying
        parked there (:meth:`_staying_parked`), held for good from the start of every round: whatever the order,
        its search finds every goal taken and it stalls. When all the stalled vehicles of a round are so, the
        rounds after it, each planning them first, stall them again and cannot do better: a day of
        ``target_2030`` planned 2,400 full replans in 5,800 rounds, and a round after the first did better 7
        times."""
        return all(staying.get(goal, request.vehicle_id) != request.vehicle_id and staying[goal] not in request.meets
                   for goal in request.hold_at or request.goals)

    def _places_held(self, requests: list[PlanRequest]) -> ReservationTable:
        """A table where every vehicle holds the place it starts from, as each round of a full replan begins
        (the same whatever the round's order: each node's holds are kept sorted)."""
        self._parked_at = {}
        for r in requests:
            if self._parked(r):
                self._parked_at.setdefault(r.start, []).append(r.vehicle_id)
        self.table = ReservationTable.of_places(
            self.timed, [(r.vehicle_id, r.start, r.start_time, self._held_until(r)) for r in requests])
        return self.table

    def _plan_in_order(self, order: list[PlanRequest], places: ReservationTable,
                       should_stop: Callable[[], bool] | None, settled: set[str]) -> FleetPlan:
        self.table = places.copy()
        result = FleetPlan()
        waiting = {r.vehicle_id for r in order} - settled
        for request in order:
            if request.vehicle_id in waiting:
                self._plan_promoting(request, waiting, result, should_stop)
        result.plans = {r.vehicle_id: self.table.plans[r.vehicle_id] for r in order}
        return result

    def _parked(self, request: PlanRequest) -> bool:
        return request.start in self._may_wait_at

    def _hold_place(self, request: PlanRequest) -> None:
        """Hold where an unplanned vehicle stands: for good if it is parked; if it is on the road, only
        until it could have driven on (it will be planned to, and a vehicle planned through its place later
        is bumped should it not get away in time)."""
        self.table.hold_place(request.vehicle_id, request.start, request.start_time, self._held_until(request))

    def _held_until(self, request: PlanRequest) -> float:
        """Until when an unplanned vehicle holds where it stands (:meth:`_hold_place`)."""
        return INF if self._parked(request) else request.start_time + self.timed.min_clearance(request.start)

    def _plan_promoting(self, request: PlanRequest, waiting: set[str], result: FleetPlan,
                        should_stop: Callable[[], bool] | None, depth: int = 0) -> None:
        """Plan ``request``. If unplanned vehicles stand in its way, plan them first and try again; if
        vehicles planned already come through where it stands before it can get away, plan it first and
        them again after it. Raises PlanInterrupted, planning nothing, when ``should_stop`` says so."""
        if should_stop is not None and should_stop():
            raise PlanInterrupted(f"the full plan was stopped before {request.vehicle_id}")
        waiting.discard(request.vehicle_id)
        if self._try_reserve(request) is None:
            return
        for blocker in self._standing_in_the_way(request, waiting):
            if blocker in waiting:
                self._plan_promoting(self.requests[blocker], waiting, result, should_stop, depth + 1)
        reason = self._try_reserve(request)
        if reason is None:
            return
        # (not a vehicle broken down there: held for good, no request, it keeps its place as in ``fail``)
        bumped = {v for v in self.table.holders(request.start, request.start_time, INF) if v in self.requests} \
            - {request.vehicle_id}
        if bumped and depth < MAX_BUMP_DEPTH:
            old = self._release(bumped)
            reason = self._try_reserve(request)
            if reason is None:
                for vehicle in old:
                    self._hold_place(self.requests[vehicle])
                waiting.update(old)
                for vehicle in old:
                    if vehicle in waiting:
                        self._plan_promoting(self.requests[vehicle], waiting, result, should_stop, depth + 1)
                return
            for plan in old.values():
                if plan is not None:
                    self.table.reserve(plan)
        result.stalled[request.vehicle_id] = reason
        self._reserve_fallback(request)

    def _try_reserve(self, request: PlanRequest) -> str | None:
        """Plan and reserve; None when done, else why not."""
        try:
            self._reserve(request)
        except NoPlan as error:
            return str(error)
        return None

    def _standing_in_the_way(self, request: PlanRequest, waiting: set[str]) -> list[str]:
        """Unplanned vehicles parked on this vehicle's fastest route or on one of its goals (those on the
        road hold their place only briefly, they are no obstacle)."""
        try:
            route = _fastest_to_any(self.timed, request.start, request.hold_at or request.goals, request)
        except NoPlan:
            route = ()
        in_the_way = []
        for node in (*route, *request.goals):
            blocker = next((vehicle for vehicle in self._parked_at.get(node, ()) if vehicle in waiting), None)
            if blocker is not None:
                in_the_way.append(blocker)
        return list(dict.fromkeys(in_the_way))

    # --- incremental replanning --------------------------------------------------------------------------

    def replan(self, request: PlanRequest, now: float | None = None) -> FleetPlan:
        """Replan one vehicle from ``request.start``, which it reaches at ``request.start_time``, against
        everyone else's reservations: after a delay, or when its clearance came, or with a new goal.
        Vehicles planned at that node while it will now be there are replanned after it, each from where it
        is at ``now`` (the time of the replan; by default the vehicle's start time)."""
        self.table.release(request.vehicle_id)
        now = request.start_time if now is None else now
        stay = request.start_time + self.timed.min_clearance(request.start) + 1e-6
        # not a vehicle broken down there (held for good, no request): it keeps its place, as in ``fail``
        old = self._release({v for v in self.table.holders(request.start, request.start_time, stay)
                             if v in self.requests})
        result = FleetPlan()
        self._reserve_or_fall_back(request, result)
        replanned = [request.vehicle_id, *self._replan_each(old, now, result)]
        result.plans = {vid: self.table.plans[vid] for vid in replanned if vid in self.table.plans}
        return result

    def delay(self, vehicle_id: str, step_index: int, arrive: float) -> FleetPlan:
        """The vehicle reaches step ``step_index`` of its plan only at ``arrive``: push back the times of
        its plan and of every plan the delay reaches, keeping all routes and the order of vehicles at
        every node (:func:`planner.schedule.retime.retime`). Cannot stall anyone; returns the plans that
        changed. To change the late vehicle's route as well, :meth:`replan` it afterwards."""
        changed = retime(self.table, vehicle_id, step_index, arrive)
        for plan in changed.values():
            self.table.reserve(plan)
        return FleetPlan(plans=changed)

    def fail(self, vehicle_id: str, node: str, since: float, ahead: Sequence[str] = ()) -> FleetPlan:
        """A vehicle broke down at ``node``, and may still drive on along ``ahead`` (the way released to it, which
        it has not given up): it holds all that for good (``ReservationTable.hold_way``), and every vehicle that
        planned to pass there later is replanned around it from where it is at ``since``."""
        way = (node, *ahead)
        # a vehicle already broken down there holds the node for good and has nothing left to replan
        affected = {v for v in self.table.users_of_way(way, since) - {vehicle_id} if v in self.requests}
        self.table.hold_way(vehicle_id, way, since)
        self.requests.pop(vehicle_id, None)
        result = FleetPlan()
        replanned = self._replan_each(self._release(affected), since, result)
        result.plans = {vid: self.table.plans[vid] for vid in replanned if vid in self.table.plans}
        return result

    def _release(self, vehicles: set[str]) -> dict[str, TimedPlan | None]:
        """Release the vehicles' reservations; their plans as they were, in a stable order."""
        old = {vehicle: self.table.plans.get(vehicle) for vehicle in sorted(vehicles)}
        for vehicle in old:
            self.table.release(vehicle)
        return old

    def _replan_each(self, old: dict[str, TimedPlan | None], now: float, result: FleetPlan) -> list[str]:
        """Replan released vehicles in order, each from where it is at ``now``. Returns those replanned.

        Deliberately no bumping here, unlike a full replan: releasing the vehicles behind a stalled one to
        plan them after it was measured to stall ~20 times more vehicles in a dense fleet of 200."""
        replanned: list[str] = []
        for vehicle, plan in old.items():
            request = self._where_at(vehicle, plan, now, result)
            if request is not None:
                self._reserve_or_fall_back(request, result)
                replanned.append(vehicle)
        return replanned

    def _reserve_or_fall_back(self, request: PlanRequest, result: FleetPlan) -> None:
        """Plan and reserve the request; failing that, report the vehicle stalled and let it wait safely."""
        self.requests[request.vehicle_id] = request
        reason = self._try_reserve(request)
        if reason is not None:
            result.stalled[request.vehicle_id] = reason
            self._reserve_fallback(request)

    def _where_at(self, vehicle: str, plan: TimedPlan | None, now: float, result: FleetPlan) -> PlanRequest | None:
        """The vehicle's request from the node it stands at, or is committed to, at ``now``; None (and
        reported stalled) when that node is taken for good by a breakdown ahead of it."""
        request = self.requests[vehicle]
        if plan is None:
            return request
        index = plan.step_index_at(now)
        step = plan.steps[index]
        request = replace(request, start=step.node, start_time=max(now, step.arrive),
                          stops=_stops_left(request.stops, plan, index))
        for_good = sorted(self.table.holders_for_good(step.node))
        if step.arrive > now and for_good:
            result.stalled[vehicle] = (f"{vehicle}: stopped on the lane into {step.node}, where "
                                       f"{', '.join(for_good)} stands for good")
            return None
        return request

    # --- one vehicle ---------------------------------------------------------------------------------------

    def _reserve(self, request: PlanRequest) -> TimedPlan:
        """Plan one vehicle against the table and reserve its plan (or raise NoPlan, reserving nothing)."""
        if self._stays_as_held(request):
            plan = _stay_plan(request)
            self.table.reserve_held(plan)
            return plan
        held = self.table.plans.get(request.vehicle_id)
        self.table.release(request.vehicle_id)
        try:
            plan = self.plan_one(request)
        except NoPlan:
            if held is not None:
                self.table.reserve(held)
            else:
                self._hold_place(request)
            raise
        self.table.reserve(plan)
        return plan

    def _stays_as_held(self, request: PlanRequest, table: ReservationTable | None = None) -> bool:
        """The vehicle is to stay where it stands, holds just that place for good from its start time (every
        vehicle's place as a full replan's round begins), and may stay there: its plan is to stay, and it holds
        already what that plan reserves. Most of a busy day's 200 vehicles stand parked with nothing to do, each
        planned again in every round of each of some 2,400 full replans; released, planned and reserved again,
        that was the same hold written back (``test_a_vehicle_that_stays_as_held_is_planned_as_before``). Asked of
        ``table``, by default the planner's own."""
        return not request.hold_at and self._holds_and_may_stay(request, request.goals, request.stops, table)

    def _holds_and_may_stay(self, request: PlanRequest, goals: tuple[str, ...], stops: tuple[Stop, ...],
                            table: ReservationTable | None = None) -> bool:
        """:meth:`_stays_as_held` for the request with these goals and stops, and no ``hold_at`` (asked without
        making that request: :meth:`_reserve_fallback` asks it of each stalled vehicle)."""
        table = self.table if table is None else table
        vehicle = request.vehicle_id
        return self.search is plan_path and table.holds_just(vehicle, request.start, request.start_time) \
            and self.timed.node_ids.issuperset(goals) \
            and may_stay(table, request.start, request.start_time, goals, request.profile, stops, request.meets,
                         ignoring=frozenset((vehicle,)))

    def plan_one(self, request: PlanRequest) -> TimedPlan:
        """The vehicle's plan against the current reservations, without reserving it."""
        goals, profile = request.goals, request.profile
        horizon_goals: tuple[str, ...] = ()
        if request.hold_at:
            goals, horizon_goals, profile = request.hold_at, request.goals, self.short_of_the_border(request).profile
            free = [n for n in goals if not self.table.holders_for_good(n) - {request.vehicle_id}]
            if request.keep_free and len(free) <= request.keep_free:
                raise NoPlan(f"{request.vehicle_id}: of {', '.join(goals)}, {len(free)} free for good and "
                             f"{request.keep_free} to be kept free")
        steps = self.search(self.table, request.vehicle_id, request.start, request.start_time, goals,
                          profile, request.stops, request.meets)
        horizon: tuple[str, ...] = ()
        if horizon_goals:
            steps[-1] = replace(steps[-1], action="await_clearance")
            horizon = _fastest_to_any(self.timed, steps[-1].node, horizon_goals, request)[1:]
        return TimedPlan(request.vehicle_id, tuple(_mark_custody(self.timed, steps)), horizon, request.meets)

    def short_of_the_border(self, request: PlanRequest) -> PlanRequest:
        """The request with a profile that keeps it off every crossing lane and the border line (a relay pad
        too): how a vehicle to wait at ``hold_at`` (a gate, for its clearance) is planned, since no plan may take
        it past its gates before its gate pass. Without it, with the gate lane reserved for a while by another
        vehicle, the search drove it through that lane free for now, up to the bridge, round over the relay pad
        and back to the gate: past its gates without its gate pass, it stood at the last node before the
        bridge for good (issue #13, finding 12). Where it stands stays allowed (a relay deliverer on the pad
        whose meeting was called off)."""
        return replace(request, profile=self.profile_short_of_the_border(request.profile, request.start))

    def profile_short_of_the_border(self, profile: VehicleProfile, start: str) -> VehicleProfile:
        """``profile`` kept off every crossing lane and the border line, but for ``start`` (where it stands)."""
        return replace(profile, cross_border=False, avoid=profile.avoid | (self.timed.on_the_line - {start}))

    def _reserve_fallback(self, request: PlanRequest) -> None:
        """Safety first: a vehicle that cannot get a plan goes to one of its ``wait_at`` places if it can;
        else to the nearest place it may wait (where it stands, if it may wait there: the nearest of all);
        failing that it holds its node for good. A vehicle to wait at ``hold_at`` (a gate, for its clearance) is
        never taken over a crossing lane by these fallbacks: driven through a gate lane free for now to a place
        across, it skipped its gate pass and stood at the last node before the crossing for good, closing the
        one lane to the bridge (issue #13, finding 11).

        It may not wait where another vehicle stands or is to go (a dock another is bound for, say, which it
        leaves), but where it stands is not taken from it for a vehicle that may go to any of several places (a
        parking job: every spot of its side). Counted "spoken for", a stalled vehicle's own parking spot sent it to
        the nearest place left, an outbound gate lane, where it waited for the pickup dock whose loaded vehicle
        waited for that lane: on target_2030 (branch ``same``, 19:00) the corridor stood still from then on."""
        if request.hold_at:
            request = self.short_of_the_border(request)
        if request.wait_at and request.start not in request.wait_at:
            try:
                self._reserve(replace(request, goals=request.wait_at, hold_at=(), stops=(), wait_at=()))
                return
            except NoPlan:
                pass
        spoken_for = set(request.never_wait_at)
        if request.keep_free:  # nor a place it is to keep free, by the back door (relay: a lane to the pad)
            spoken_for.update(request.hold_at)
        if request.start in self._may_wait_at and request.start not in spoken_for \
                and self.requests.free_of_others(request.vehicle_id, request.start, (request.start,)):
            # where it stands is one of the places below, and :meth:`_reserve` first asks whether it stays as held,
            # whatever the other places: four stalled vehicles in five on a busy day do, answered so without
            # gathering the places free of others (a look at each of the map's 258, some 160,000 times a day)
            if self._holds_and_may_stay(request, (request.start,), ()):  # (staying there: _stays_as_held)
                self.table.reserve_held(_stay_plan(request))  # (what _reserve reserves then)
                return
        places = tuple(n for n in self.requests.free_of_others(request.vehicle_id, request.start,
                                                                  self._waiting_places) if n not in spoken_for)
        try:
            self._reserve(replace(request, goals=places, hold_at=(), stops=()))
        except NoPlan:
            self.table.reserve(TimedPlan(request.vehicle_id, (Step(request.start, request.start_time, INF),)))


def _stay_plan(request: PlanRequest) -> TimedPlan:
    """The plan to stay for good where the request starts (what :meth:`FleetPlanner._stays_as_held` answers)."""
    return TimedPlan(request.vehicle_id, (Step(request.start, request.start_time, INF),), meets=request.meets)


def _stops_left(stops: tuple[Stop, ...], plan: TimedPlan, index: int) -> tuple[Stop, ...]:
    """Those of a request's ``stops`` its ``plan`` has not made before step ``index``, where the vehicle is now (a
    stop is made at a step at its node with its action, in order; the stop at ``index`` itself is under way and
    stays). Kept, a relay partner replanned from the pad mid-transfer (its partner broke down there) had its
    plan's first stop, a wait where it had set off from, still to make: it drove off the pad with the load, round
    its yard to that gate and back, the transfer left."""
    made = 0
    for step in plan.steps[:index]:
        if made < len(stops) and step.node == stops[made].node and step.action == stops[made].action:
            made += 1
    return stops[made:]


def _mark_custody(timed: TimedGraph, steps: list[Step]) -> list[Step]:
    """The custody handoff (DESIGN.md §4): where a through trip crosses the border line, whether over a
    border node or over the relay pad, its step there is marked ``custody`` (a relay meeting's steps are
    marked by their stop). (Marked in place: the steps are the search's own list.)"""
    nodes = timed.graph.nodes
    for k in range(1, len(steps) - 1):
        # ``on_the_line``: the nodes of a border-line kind, known without a look at the graph for each step
        if steps[k].node in timed.on_the_line and not steps[k].action and \
                nodes[steps[k - 1].node]["jurisdiction"] != nodes[steps[k + 1].node]["jurisdiction"]:
            steps[k] = replace(steps[k], action="custody")
    return steps


def _fastest_to_any(timed: TimedGraph, source: str, goals: tuple[str, ...], request: PlanRequest) -> tuple[str, ...]:
    """The fastest route (ignoring other vehicles) from ``source`` to the nearest of ``goals``."""
    route = timed.fastest_route(source, frozenset(goals), request.profile)
    if not route:
        raise NoPlan(f"{request.vehicle_id}: no route from {source} to any of {', '.join(goals)}")
    return route
