"""Scenario files: every shipped one loads; a bad one is refused with a message that names the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.scenario import SCENARIOS_DIR, OperatingModel, ScenarioError, load_scenario

SHIPPED = sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def test_the_issue_s_scenarios_are_shipped() -> None:
    assert {"baseline_2026", "target_2030", "stress", "faults", "kim_thanh"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_loads_with_its_map(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert (Path(scenario.map) / "corridor.yaml").is_file()


def test_baseline_and_target_demand_match_the_issue() -> None:
    baseline, target = load_scenario("baseline_2026"), load_scenario("target_2030")
    per_day = {s.name: sum(s.demand.per_day(d) for d in s.demand.per_hour) for s in (baseline, target)}
    assert 270 <= per_day["baseline_2026"] <= 290  # about 280 crossings a day
    assert per_day["target_2030"] == pytest.approx(3 * per_day["baseline_2026"], rel=0.01)
    assert target.fleet.size == 200
    vn = baseline.customs["VN"].channels  # the public figures are the defaults
    assert (vn["green"].share, vn["yellow"].share, vn["red"].share) == (0.65, 0.25, 0.10)
    assert vn["red"].scan_min == 10 and vn["red"].delay.median_min == 180
    assert baseline.customs["CN"].channels["red"].share == 0.07


def test_kim_thanh_runs_on_its_own_map() -> None:
    scenario = load_scenario("kim_thanh")
    assert Path(scenario.map).name == "kim_thanh"
    assert scenario.operating_model in (OperatingModel.THROUGH, OperatingModel.RELAY)


def _write(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((SCENARIOS_DIR / "baseline_2026.yaml").read_text())
    data["map"] = str(Path(load_scenario("baseline_2026").map))
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda d: d["fleet"].update(size=0), "fleet.size", "greater than or equal to 1"),
    (lambda d: d["fleet"].update(cross_share=1.5), "fleet.cross_share", "less than or equal to 1"),
    (lambda d: d["fleet"].update(colour="red"), "fleet.colour", "Extra inputs"),
    (lambda d: d["demand"].update(per_hour={"VN-CN": 3}), "demand.per_hour", "not a direction"),
    (lambda d: d["demand"].update(per_hour={"VN->LA": 3}), "demand.per_hour", "not between the customs sides"),
    (lambda d: d["demand"].update(profile=[1.0] * 23), "demand.profile", "24 hourly weights"),
    (lambda d: d["demand"].update(containers=[1, 3]), "demand.containers", "1 or 2 containers"),
    (lambda d: d.update(customs={"VN": {"authority": "VN_CUSTOMS", "channels": {
        "green": {"share": 0.5, "delay": {"kind": "lognormal", "median_min": 5}}}},
        "CN": {"authority": "CN_CUSTOMS", "channels": {"green": {"share": 1, "delay": {
            "kind": "uniform", "low_min": 0, "high_min": 0}}}}}), "customs.VN.channels", "add up to 0.5"),
    (lambda d: d.update(customs={"VN": {"authority": "VN_CUSTOMS", "channels": {
        "green": {"share": 1, "delay": {"kind": "gamma", "median_min": 5}}}}}), "customs.VN.channels.green.delay",
     "gamma"),
    (lambda d: d.update(faults={"customs_outages": [{"authority": "LA_CUSTOMS", "start_h": 1, "duration_min": 5}]}),
     "faults.customs_outages.0.authority", "not one of"),
    (lambda d: d.update(gate_pass_s=[45, 15]), "gate_pass_s", "low <= high"),
    (lambda d: d.update(duration_h=-1), "duration_h", "greater than 0"),
    (lambda d: d.update(map="maps/atlantis"), "map", "no corridor folder"),
])
def test_a_bad_scenario_names_the_field(tmp_path: Path, change, field: str, words: str) -> None:
    with pytest.raises(ScenarioError) as error:
        load_scenario(_write(tmp_path, change))
    assert f"{field}" in str(error.value) and words in str(error.value)
    assert "Value error," not in str(error.value)  # pydantic's wrapping of a check's own words is not the user's


def test_unreadable_scenarios_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"no such scenario file.*baseline_2026"):
        load_scenario(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not YAML"):
        load_scenario(tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ScenarioError, match="a YAML mapping"):
        load_scenario(tmp_path / "list.yaml")
