"""A full replan's rounds start from a copy of the places every vehicle holds, and a vehicle that stays where it
holds its place is not planned and reserved again: the same plans and the same reservations as before."""

from __future__ import annotations

from dataclasses import replace

import pytest

from planner.schedule import FleetPlanner
from planner.schedule.plans import INF, Step, Stop, TimedPlan
from planner.schedule.table import ReservationTable
from sim.planning_scenarios import random_requests


def _state(table: ReservationTable) -> tuple:
    """Everything a table holds, comparable between tables (empty lists left behind by releases aside; the plans
    by vehicle whatever the order they were written in, which nothing reads: a full plan's result lists them in
    its requests' order)."""
    def kept(by_key: dict) -> dict:
        return {key: list(items) for key, items in by_key.items() if items}
    return dict(table.plans), kept(table._holds), kept(table._groups), kept(table._zones), \
        {vehicle: sorted(map(repr, held)) for vehicle, held in table._by_vehicle.items() if held}


class _PlannedAgain(FleetPlanner):
    """The planner as it was: every vehicle released, searched and reserved, staying or not."""

    def _stays_as_held(self, request, table=None) -> bool:
        return False


class _EveryRound(FleetPlanner):
    """The planner before the vehicles staying parked were settled ahead of the rounds: each of them answered with
    its hold in every round, at its turn."""

    def _settle(self, requests, staying, places) -> set[str]:
        return set()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_vehicle_that_stays_as_held_is_planned_as_before(bac_luan_ii, monkeypatch, seed):
    """Dense fleets (some stall, so that several rounds run and fallbacks reserve), half of the parked vehicles
    with nothing to do: the same plans, stalls and reservations as planning each of them again, then a replan and
    a breakdown on top of each."""
    requests = random_requests(bac_luan_ii, 140, seed=seed, moving_share=0.3, idle_share=0.5)
    idle = [r.start for r in requests if r.goals == (r.start,)]
    # some on their way to where an idle one stands for good: they stall, fall back, and the rounds go on
    requests = [replace(r, goals=(idle[i % len(idle)],)) if i % 10 == 0 and r.goals != (r.start,) else r
                for i, r in enumerate(requests)]
    kept = []
    reserve_held = ReservationTable.reserve_held

    def counted(table, plan):
        kept.append(plan.vehicle_id)
        reserve_held(table, plan)
    monkeypatch.setattr(ReservationTable, "reserve_held", counted)
    now, again = FleetPlanner(bac_luan_ii.graph), _PlannedAgain(bac_luan_ii.graph)
    results = now.plan_all(requests), again.plan_all(requests)
    assert results[0] == results[1]
    assert _state(now.table) == _state(again.table)
    assert len(kept) > len(idle)  # the idle ones, in more than one round
    assert results[0].stalled  # (the rounds after the first were compared too)
    moving = next(r for r in requests if r.goals != (r.start,))
    assert now.replan(moving, now=10.0) == again.replan(moving, now=10.0)
    assert now.fail(moving.vehicle_id, moving.start, 20.0) == again.fail(moving.vehicle_id, moving.start, 20.0)
    assert _state(now.table) == _state(again.table)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_vehicles_staying_parked_are_settled_ahead_of_the_rounds_with_the_same_plans(bac_luan_ii, seed):
    """The same dense fleets: the plans, stalls and reservations of planning each staying vehicle at its turn in
    every round, and the rounds plan none of the settled ones (one relay partner among them is planned in them)."""
    requests = random_requests(bac_luan_ii, 140, seed=seed, moving_share=0.3, idle_share=0.5)
    idle = [r for r in requests if r.goals == (r.start,)]
    requests = [replace(r, goals=(idle[i % len(idle)].start,)) if i % 10 == 0 and r.goals != (r.start,) else r
                for i, r in enumerate(requests)]
    partner = idle[0].vehicle_id
    moving = next(i for i, r in enumerate(requests) if r.goals != (r.start,))
    requests[moving] = replace(requests[moving], meets=frozenset({partner}))
    now, before = FleetPlanner(bac_luan_ii.graph), _EveryRound(bac_luan_ii.graph)
    planned: list[str] = []
    plan_promoting = now._plan_promoting

    def counted(request, *args, **kwargs):
        planned.append(request.vehicle_id)
        return plan_promoting(request, *args, **kwargs)
    now._plan_promoting = counted
    results = now.plan_all(requests), before.plan_all(requests)
    assert results[0] == results[1]
    assert _state(now.table) == _state(before.table)
    settled = {r.vehicle_id for r in idle} - {partner}
    assert settled and not settled & set(planned)
    assert partner in planned


class _AskedOfPlaces(FleetPlanner):
    """The planner that also asks the table of places whether each vehicle it settles stays as held there."""

    answers: list[bool]

    def _stays_as_held_in_places(self, request) -> bool:
        known = super()._stays_as_held_in_places(request)
        assert known == self._stays_as_held(request)  # (the planner's table is the places being settled)
        self.answers.append(known)
        return known


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_whether_a_vehicle_staying_parked_stays_as_held_is_known_from_its_request(bac_luan_ii, seed):
    """Vehicles staying parked, some loading where they stand (stops), one from before time 0: the answer known from
    the request is what the table of places answers, and both answers come."""
    requests = random_requests(bac_luan_ii, 140, seed=seed, moving_share=0.3, idle_share=0.5)
    idle = [r.start for r in requests if r.goals == (r.start,)]
    requests = [replace(r, stops=(Stop(r.start, 60.0, action="pickup"),)) if r.start in idle[::3] else r
                for r in requests]
    early = next(i for i, r in enumerate(requests) if r.start in idle[1::3])
    requests[early] = replace(requests[early], start_time=-1.0)
    planner = _AskedOfPlaces(bac_luan_ii.graph)
    planner.answers = []
    planner.plan_all(requests)
    assert True in planner.answers and False in planner.answers


def test_a_copied_table_is_written_apart_from_its_original(bac_luan_ii):
    planner = FleetPlanner(bac_luan_ii.graph)
    planner.plan_all(random_requests(bac_luan_ii, 60, seed=5, moving_share=0.5))
    original = planner.table
    before = _state(original)
    twin = original.copy()
    assert _state(twin) == before
    for vehicle, plan in list(twin.plans.items())[:20]:
        twin.release(vehicle)
        twin.hold_place(vehicle, plan.steps[0].node, 0.0)
    node = next(iter(original.plans.values())).steps[-1].node
    twin.reserve(TimedPlan("agv_new", (Step(node, 1e6, INF),)))
    assert _state(original) == before
    assert _state(twin) != before


class _AllRounds(FleetPlanner):
    """The planner as it was: another round whatever the stalled vehicles wait for."""

    def _stalls_in_any_order(self, request, staying) -> bool:
        return False


def _rounds_counted(planner: FleetPlanner) -> list[int]:
    stalled_by_round: list[int] = []
    plan_in_order = planner._plan_in_order

    def counted(*args):
        result = plan_in_order(*args)
        stalled_by_round.append(len(result.stalled))
        return result
    planner._plan_in_order = counted
    return stalled_by_round


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_round_after_one_whose_stalled_vehicles_wait_for_vehicles_staying_parked(bac_luan_ii, seed):
    """Vehicles sent to where others stay parked (with nothing to do, or loading where they stand) stall in any
    order: the full replan stops after its first round, with what every later round gave up for it. With two more
    vehicles sent to one place (which of them stalls depends on the order), the rounds go on as before."""
    requests = random_requests(bac_luan_ii, 140, seed=seed, moving_share=0.3, idle_share=0.5)
    idle = [r.start for r in requests if r.goals == (r.start,)]
    requests = [replace(r, stops=(Stop(r.start, 60.0, action="pickup"),)) if r.start in idle[::2] else r
                for r in requests]
    doomed = [replace(r, goals=(idle[i % len(idle)],)) if i % 10 == 0 and r.goals != (r.start,) else r
              for i, r in enumerate(requests)]
    first, second = [i for i, r in enumerate(doomed) if i % 10 and r.goals != (r.start,)][:2]
    rivals = list(doomed)
    rivals[second] = replace(rivals[second], goals=rivals[first].goals)
    for fleet, one_round in ((doomed, True), (rivals, False)):
        now, before = FleetPlanner(bac_luan_ii.graph), _AllRounds(bac_luan_ii.graph)
        rounds_now, rounds_before = _rounds_counted(now), _rounds_counted(before)
        assert now.plan_all(fleet) == before.plan_all(fleet)
        assert _state(now.table) == _state(before.table)
        assert len(rounds_before) > 1 and min(rounds_before[1:]) >= rounds_before[0]  # the later rounds no better
        assert (len(rounds_now) == 1) == one_round
