"""The day planner on small problems built to break one rule each, and on Li & Lim's lc101, lr101 and lrc101
(feasibility only; the full benchmark is tests/bench/bench_dayplan.py), every route re-checked by the
independent checker in tests/bench/lilim.py."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from planner.dayplan import Action, Backend, Clock, Costs, DayProblem, Shipment, TravelMatrix, Vehicle, Window, plan_day
from planner.exceptions import InvalidRequest

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
import lilim

BACKENDS = [Backend.PYVRP, Backend.ORTOOLS]


def line(*positions: float, profiles: int = 1) -> TravelMatrix:
    """Locations on a line, 1 m/s: ``a`` at positions[0], ``b`` at positions[1], ..."""
    x = np.array(positions, dtype=float)
    metres = np.abs(x[:, None] - x[None, :])
    names = tuple("abcdefgh"[: len(x)])
    return TravelMatrix(names, np.stack([metres] * profiles), np.stack([metres] * profiles))


@pytest.mark.parametrize("name", ["lc101", "lr101", "lrc101"])
def test_li_lim_subset_is_planned_feasible_and_the_checker_agrees(name):
    instance = lilim.read_instance(lilim.DATA / f"{name}.txt")
    plan = plan_day(lilim.day_problem(instance), Backend.PYVRP, time_limit_s=1.0, clock=Clock.CPU)  # load-proof
    checked = lilim.check(instance, lilim.task_routes(plan))
    assert checked.violations == () and plan.feasible and not plan.unserved
    assert checked.distance == pytest.approx(plan.distance_m, abs=1e-6)
    assert abs(plan.solver.distance_m - checked.distance) < 0.01 * len(instance.tasks)  # the solver's rounding


def test_the_independent_checker_refuses_each_broken_rule():
    instance = lilim.read_instance(lilim.DATA / "lc101.txt")
    routes = lilim.task_routes(plan_day(lilim.day_problem(instance), Backend.PYVRP, time_limit_s=0.5))
    first = routes[0]
    delivery = next(t for t in first if instance.tasks[t].demand < 0)
    swapped = [delivery] + [t for t in first if t != delivery]
    assert any("before (or without) its pickup" in v for v in lilim.check(instance, [swapped] + routes[1:]).violations)
    assert any("served 0 times" in v for v in lilim.check(instance, routes[1:]).violations)
    slow = [list(reversed(r)) for r in routes]
    assert any("after its latest" in v or "before" in v for v in lilim.check(instance, slow).violations)
    merged = [[t for r in routes[:6] for t in r]] + routes[6:]
    assert any("over capacity" in v or "closes" in v or "after its latest" in v
               for v in lilim.check(instance, merged).violations)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_window_that_cannot_be_kept_is_reported_not_hidden(backend):
    # b's pickup closes at 5 s but it is 10 m away: no plan keeps it, the one returned must say so
    problem = DayProblem(line(0, 10, 20), [Shipment("s", "b", "c", pickup_window=Window(0, 5))],
                         [Vehicle("v", "a", "a", 2)])
    plan = plan_day(problem, backend, time_limit_s=0.5)
    assert not plan.feasible
    said = " ".join(plan.breaks)
    assert "after its window closes" in said or "required shipment s is not served" in said


def test_lateness_past_a_soft_due_time_is_priced_and_reported():
    # due 5 s after the earliest the drop can be reached: 5 s late whatever the plan, and a hard limit far off
    problem = DayProblem(line(0, 10, 20), [Shipment("s", "b", "c", drop_window=Window(0, 1000, due=15))],
                         [Vehicle("v", "a", "a", 2)], Costs(late_per_s=3.0))
    plan = plan_day(problem, Backend.AUTO, time_limit_s=0.5)
    assert plan.backend == Backend.ORTOOLS and plan.feasible
    drop = plan.routes[0].visits[-1]
    assert drop.action == Action.DROP and drop.late_s == pytest.approx(5.0) and drop.broken_s == 0
    assert plan.cost == pytest.approx(40.0 + 3.0 * 5.0)  # 40 m driven, back home included


@pytest.mark.parametrize("backend", BACKENDS)
def test_containers_of_any_size_share_capacity(backend):
    # feet: two 20' fit a 40' chassis together, a 45' alone; all picked at a, dropped at b by one vehicle
    sizes = {"t1": 20, "t2": 20, "big": 45}
    problem = DayProblem(line(0, 10, 20), [Shipment(k, "b", "c", n) for k, n in sizes.items()],
                         [Vehicle("v", "a", "a", 45)])
    plan = plan_day(problem, backend, time_limit_s=0.5)
    assert plan.feasible and not plan.unserved
    assert max(v.load for v in plan.routes[0].visits) <= 45
    with pytest.raises(InvalidRequest, match="size 50 is more than any vehicle carries"):
        DayProblem(line(0, 10), [Shipment("huge", "a", "b", 50)], [Vehicle("v", "a", "a", 45)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_route_returns_home_and_a_vehicle_costs_its_price(backend):
    # two shipments at opposite ends: one vehicle does both when a vehicle costs more than the extra drive
    shipments = [Shipment("east", "c", "d"), Shipment("west", "b", "a")]
    fleet = [Vehicle("v1", "e", "e", 1), Vehicle("v2", "e", "e", 1)]
    cheap = plan_day(DayProblem(line(100, 0, 200, 300, 150), shipments, fleet, Costs(per_vehicle=0)), backend, 0.5)
    dear = plan_day(DayProblem(line(100, 0, 200, 300, 150), shipments, fleet, Costs(per_vehicle=1e4)), backend, 0.5)
    assert dear.vehicles_used == 1 and dear.feasible
    position = dict(a=100, b=0, c=200, d=300, e=150)
    for plan in (cheap, dear):
        for route in plan.routes:
            last = route.visits[-1]
            assert route.return_s == pytest.approx(last.depart_s + abs(position[last.location] - position["e"]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_battery_range_and_authorization_choose_the_vehicle(backend):
    # layer 1 has no route from b to c (a crossing that profile may not drive)
    travel = line(0, 10, 50, profiles=2)
    durations, distances = travel.durations.copy(), travel.distances.copy()
    durations[1, 1, 2] = distances[1, 1, 2] = math.inf
    travel = TravelMatrix(travel.locations, durations, distances)
    fleet = [Vehicle("unauthorized", "a", "a", 2, profile=1), Vehicle("short", "a", "a", 2, range_m=60),
             Vehicle("able", "a", "a", 2)]
    plan = plan_day(DayProblem(travel, [Shipment("s", "b", "c")], fleet), backend, time_limit_s=0.5)
    assert plan.feasible and [r.vehicle_id for r in plan.routes] == ["able"]  # 100 m round trip; range 60


def test_bad_problems_are_refused_naming_the_item():
    with pytest.raises(InvalidRequest, match="shipment s: pickup 'x' is not a location"):
        DayProblem(line(0, 1), [Shipment("s", "x", "b")], [Vehicle("v", "a", "a", 1)])
    with pytest.raises(InvalidRequest, match="window latest 1 is before earliest 5"):
        Window(5, 1)
    with pytest.raises(InvalidRequest, match="vehicle v: profile 3"):
        DayProblem(line(0, 1), [], [Vehicle("v", "a", "a", 1, profile=3)])
    with pytest.raises(InvalidRequest, match="time_limit_s"):
        plan_day(DayProblem(line(0, 1), [], [Vehicle("v", "a", "a", 1)]), time_limit_s=0)


NAN, BIG = float("nan"), 1e300


@pytest.mark.parametrize(("build", "said"), [
    (lambda: Shipment("s", "b", "c", pickup_service_s=NAN), "shipment s: pickup_service_s must be a number"),
    (lambda: Shipment("s", "b", "c", drop_service_s=math.inf), "shipment s: drop_service_s must be a number"),
    (lambda: Shipment("s", "b", "c", size=10**20), "shipment s: size must be a whole number from 1 to 1e+09"),
    (lambda: Shipment("s", "b", "c", priority=math.inf), "shipment s: priority must be a finite number > 0"),
    (lambda: Vehicle("v", "a", "a", 2, return_by_s=NAN), "vehicle v: return_by_s must be a number"),
    (lambda: Vehicle("v", "a", "a", 2, range_m=BIG), "vehicle v: range_m must be a number from 0 to 1e+09 or inf"),
    (lambda: Window(earliest=BIG), "window earliest must be a number from 0 to 1e+09"),
    (lambda: Costs(per_vehicle=math.inf), "costs per_vehicle must be a finite number"),
    (lambda: Costs(late_per_s=NAN), "costs late_per_s must be a finite number"),
    (lambda: TravelMatrix(("a", "b"), np.full((1, 2, 2), BIG), np.ones((1, 2, 2))),
     "travel matrix durations has entries above 1e+09"),
    (lambda: DayProblem(line(0, 10), [], [Vehicle("v", "a", "a", 2)], Costs(per_vehicle=1e30)),
     "costs per_vehicle is worth 1e+30 metres driven, more than 1e+12"),
    (lambda: DayProblem(line(0, 10), [Shipment("s", "a", "b", priority=1e20, required=False)],
                        [Vehicle("v", "a", "a", 2)]), "costs unserved times priority of s is worth 1e+26 metres"),
    pytest.param(lambda: plan_day(DayProblem(line(0, 10), [], [Vehicle("v", "a", "a", 2)]), time_limit_s=math.inf),
                 "time_limit_s must be a finite number > 0", marks=pytest.mark.timeout(20)),  # it searched for ever
])
def test_figures_no_solver_can_count_are_refused_naming_them(build, said):
    """Found: a NaN or infinite service time, priority or cost, or a time, distance or cost beyond what the
    solvers count in int64 (ms, mm), passed the problem's checks and plan_day then raised OverflowError or
    ValueError from deep in the integer conversion; a NaN return time was taken as no limit at all; an
    infinite time limit searched for ever. Each is now refused, naming the figure."""
    with pytest.raises(InvalidRequest, match=re.escape(said)):
        build()


def test_a_shipment_served_by_two_vehicles_is_a_break_whatever_the_solver_says(monkeypatch):
    """Found: the plan's own check ran route by route, so a solver answer in which two vehicles each picked
    up and dropped the same container (it exists once) came back feasible. The solver is the unit's edge."""
    from planner.dayplan import SolverAnswer, solve

    twice = [(0, Action.PICKUP), (0, Action.DROP)]
    monkeypatch.setitem(solve.SOLVERS, Backend.PYVRP,
                        lambda *_: SolverAnswer({"v1": twice, "v2": twice}, 80.0, 2, 80.0, True))
    problem = DayProblem(line(0, 10, 20), [Shipment("s", "b", "c")],
                         [Vehicle("v1", "a", "a", 2), Vehicle("v2", "a", "a", 2)])
    plan = plan_day(problem, Backend.PYVRP, time_limit_s=0.5)
    assert not plan.feasible and plan.breaks == ("shipment s is served by more than one vehicle: v1, v2",)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_shipment_no_vehicle_can_serve_says_why(backend):
    """Found: OR-Tools leaves such a shipment out, and the plan said only "required shipment s is not
    served", not what makes it impossible; now it says what breaks with even a vehicle of its own."""
    problem = DayProblem(line(0, 10, 20), [Shipment("s", "b", "c", pickup_window=Window(0, 5))],
                         [Vehicle("v", "a", "a", 2, range_m=100)])
    plan = plan_day(problem, backend, time_limit_s=0.5)
    assert not plan.feasible
    assert any("pickup of s at b starts at 10.0 s, 5.0 s after its window closes (5.0 s)" in b for b in plan.breaks)


@pytest.mark.parametrize(("cut", "said"), [
    (lambda text: text[:3000], "line 108 has 6 fields, not 9"),  # cut mid-line
    (lambda text: "\n".join(text.splitlines()[:40]), "task 3 names task 75, which the file does not hold"),
    (lambda text: "", "no header line"),
])
def test_a_truncated_li_lim_file_is_refused_naming_the_line(tmp_path, cut, said):
    """Found: a Li & Lim file cut short (a copy interrupted) raised IndexError from reading or from posing it."""
    path = tmp_path / "lc101.txt"
    path.write_text(cut((lilim.DATA / "lc101.txt").read_text()))
    with pytest.raises(ValueError, match=re.escape(f"{path}: {said}")):
        lilim.day_problem(lilim.read_instance(path))


@pytest.mark.parametrize("late_per_s", [0.0, 0.4, 0.0004])
def test_lateness_is_weighed_at_its_price_when_that_is_not_a_whole_unit(late_per_s):
    # two containers b -> c (20 m), both due at the drop by 30 s, one-container vehicles: one vehicle serves both,
    # the second 40 s late, driving 100 m; two vehicles are on time and drive 120 m. Lateness cheaper than the
    # 20 m saved (0.5 per s) makes one vehicle the better plan; the search must not price it as if dearer.
    shipments = [Shipment(k, "b", "c", drop_window=Window(0, 1000, due=30)) for k in ("s1", "s2")]
    fleet = [Vehicle("v1", "a", "a", 1), Vehicle("v2", "a", "a", 1)]
    plan = plan_day(DayProblem(line(0, 10, 30), shipments, fleet, Costs(late_per_s=late_per_s)), Backend.ORTOOLS, 0.5)
    assert plan.feasible and plan.vehicles_used == 1
    assert plan.cost == pytest.approx(100 + 40 * late_per_s)
