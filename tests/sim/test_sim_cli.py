"""``xborder sim``'s commands on bad input (a clear message, never a traceback) and ``compare`` side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app

runner = CliRunner()


def _metrics(crossings: int, dwell_p50: float) -> dict:
    return {"scenario": {"name": "x", "seed": 1}, "duration_h": 24.0, "fleet_size": 40,
            "crossings": {"by_direction": {"VN->CN": crossings}, "hourly": {"VN->CN": [crossings]}},
            "dwell_min": {"VN->CN": {"p50": dwell_p50, "p95": 2 * dwell_p50}}, "safety": {"violations": []}}


def test_compare_prints_both_runs_and_the_difference(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_metrics(140, 40.0)))
    b.write_text(json.dumps(_metrics(420, 55.5)))
    result = runner.invoke(app, ["compare", str(a), str(b)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if "crossings.by_direction.VN->CN" in row)
    assert "140" in line and "420" in line and "280" in line
    assert "55.50" in next(row for row in result.output.splitlines() if "dwell_min.VN->CN.p50" in row)
    assert "fleet_size" not in result.output  # equal in both: left out unless --all


def test_compare_refuses_what_is_not_a_metrics_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_metrics(1, 1.0)))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    for bad, words in (("missing.json", "no such file"), ("broken.json", "not a metrics JSON file"),
                       ("other.json", "not a metrics file")):
        result = runner.invoke(app, ["compare", str(good), str(tmp_path / bad)], env={"COLUMNS": "200"})
        assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output


def test_run_names_the_bad_field_and_needs_a_mode(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmap: bac_luan_ii\nfleet: {size: 0}\ndemand: {per_hour: {VN->CN: 1}}\n")
    result = runner.invoke(app, ["run", str(bad), "--fast"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "fleet.size" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["run", "baseline_2026"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "--fast" in result.output
    result = runner.invoke(app, ["run", "no_such_scenario", "--fast"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "baseline_2026" in result.output  # lists the shipped ones


def test_sweep_refuses_a_bad_fleet_list() -> None:
    result = runner.invoke(app, ["sweep", "baseline_2026", "--fleet", "20,forty"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "comma-separated" in result.output


def test_the_day_planner_says_how_many_agvs_a_days_demand_needs(bac_luan_ii) -> None:
    """The capacity study's lower bound: every order of a few hours' demand served within its deadline by
    at most the scenario's fleet, checked on the plan (each order on one route, picked up before dropped)."""
    from planner.dayplan import Action
    from sim.capacity import CapacityError, day_plan_fleet
    from sim.scenario import OperatingModel, load_scenario

    scenario = load_scenario("baseline_2026").model_copy(update={"duration_h": 3.0})
    answer = day_plan_fleet(scenario, bac_luan_ii, deadline_h=8.0, time_limit_s=2.0)
    assert answer.orders > 0 and answer.needed is not None and 1 <= answer.needed <= answer.offered
    plan = answer.sizing.plan
    assert plan.feasible and not plan.unserved and plan.vehicles_used == answer.needed
    served = {}
    for route in plan.routes:
        order = [(visit.shipment_id, visit.action) for visit in route.visits]
        for shipment in {s for s, _ in order}:
            assert order.index((shipment, Action.PICKUP)) < order.index((shipment, Action.DROP))
            served[shipment] = route.vehicle_id
    assert sorted(served) == sorted(f"order{i:05d}" for i in range(answer.orders))
    relay = scenario.model_copy(update={"operating_model": OperatingModel.RELAY})
    with pytest.raises(CapacityError, match="through operation only"):
        day_plan_fleet(relay, bac_luan_ii)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("args", "said"), [
    (["--hours", "1", "--time-limit", "inf"], "time_limit_s must be a finite number > 0"),
    (["--hours", "inf", "--time-limit", "1"], "duration_h"),
    (["--hours", "1e9", "--time-limit", "1"], "duration_h"),
])
def test_fleet_needed_refuses_an_endless_search_or_day(args, said) -> None:
    """Found: ``--time-limit inf`` made the day planner search for ever, and ``--hours inf`` (or 1e9) went
    past the scenario's own limit (duration_h <= 168, checked only when the file is read) and generated
    demand for ever. Both are now refused with a message, no traceback."""
    result = runner.invoke(app, ["fleet-needed", "baseline_2026", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output, result.output


def _baseline_with(tmp_path: Path, **changes) -> Path:
    """The shipped baseline scenario with some top-level sections replaced."""
    import yaml

    data = yaml.safe_load((Path(__file__).parents[2] / "sim" / "scenarios" / "baseline_2026.yaml").read_text())
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump({**data, **changes}))
    return path


@pytest.mark.parametrize(("hold", "said"), [
    ({"gate": "no_such_gate", "side": "VN"}, "'no_such_gate' is not a gate"),
    ({"gate": "cn_gate_out_1", "side": "VN"}, "'cn_gate_out_1' is a gate of CN, not of VN"),
])
def test_an_operator_hold_of_a_gate_the_map_has_not_is_refused_before_the_run(tmp_path: Path, hold, said) -> None:
    """It was a KeyError traceback when the hold came due (after simulating up to it); a gate of the other side
    was held and its waits counted as the named side's operator hold."""
    scenario = _baseline_with(tmp_path, faults={"operator_holds": [{**hold, "start_h": 0.001, "duration_min": 5}]})
    result = runner.invoke(app, ["run", str(scenario), "--fast", "--hours", "0.01", "--fleet", "2", "--no-plots",
                                 "--out", str(tmp_path / "out")], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "faults.operator_holds.0.gate" in result.output and said in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def test_a_fleet_bigger_than_the_parking_is_refused_naming_the_field(tmp_path: Path) -> None:
    """`sim run --fleet 300` on Bac Luan II (204 parking spots) was a ValueError traceback."""
    result = runner.invoke(app, ["run", "baseline_2026", "--fast", "--hours", "0.01", "--fleet", "300",
                                 "--no-plots", "--out", str(tmp_path / "out")], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "fleet.size" in result.output and "204 parking spots" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def _strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_sweep_with_nothing_delivered_writes_valid_json(tmp_path: Path) -> None:
    """With no order delivered the dwell was NaN, written as a bare NaN token: sweep.json was no JSON for jq, a
    browser or any strict parser. It is null now."""
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", "baseline_2026", "--fleet", "2", "--hours", "0.01", "--out", str(out)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = _strict_json((out / "sweep.json").read_text())
    assert rows[0]["delivered"] == 0 and rows[0]["dwell_p50_min"] is None and rows[0]["dwell_p95_min"] is None
    assert (out / "sweep.png").stat().st_size > 10_000
