"""The ROS mode (``xborder sim run --ros``) against the fast mode on one small scenario: the real
``xborder serve``, two ``agv_vehicle`` processes over DDS and both customs simulators over ZeroMQ with CURVE,
time-scaled, must deliver the same orders with the same gate decisions per vehicle as the fast mode's one
process on simulated time, with no crossing lacking a clearance in either, and leave no process behind.

Tolerance: the orders delivered, the vehicle that carried each and the gate decisions that let each vehicle
cross must be equal; times are not (docs/simulation.md, "ROS mode"): the ROS mode's vehicles run on a ``/clock``
that a loaded machine slows (each order took 1.0 to 1.4 times its fast-mode dwell on the shared machine), and its
departure side's release does not wait for the gate pass. A ROS order may not be delivered sooner than 0.85 times the
fast mode's dwell: the fast mode's kinematics are the agent's own, so a ROS vehicle is never much faster.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.processes import marked_processes

SCENARIO = Path(__file__).parent / "scenarios" / "agree_small.yaml"
SCALE = 20.0


def _outcome(recorder) -> dict:
    """What must agree: per order (by its consignments), its final state and the vehicle that carried it; the
    gate decisions that let each vehicle cross; the safety count."""
    orders = {log.demand.consignments: (log.states[-1][1], next((v for _, s, v in log.states if v), None))
              for log in recorder.orders.values() if log.states}
    return {"orders": orders, "allowed": recorder.allowed_decisions(), "unsafe": recorder.unsafe}


def _timelines(recorder) -> dict:
    """Each order's states with their simulated minutes: where an order that did not end stopped, and when."""
    return {"+".join(log.demand.consignments): [(round(t / 60, 1), s, v) for t, s, v in log.states]
            for log in recorder.orders.values()}


def _service_warnings(log: Path, last: int = 30) -> str:
    """The service's last warnings and errors (its alarms among them), for an assertion's message: the CI's machine
    and its work folder are not at hand afterwards."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if " WARNING " in line or " ERROR " in line]
    return "\n".join([f"-- the last {last} warnings of {log.name}:", *lines[-last:]])


def _dwell_s(recorder) -> dict:
    return {log.demand.consignments: next(t for t, s, _ in log.states if s == "delivered") - log.demand.ready_s
            for log in recorder.orders.values() if any(s == "delivered" for _, s, _ in log.states)}


@pytest.mark.slow
@pytest.mark.ros
@pytest.mark.timeout(900)  # a busy machine slows the vehicles' clock: the run lasts longer in wall time
def test_fast_and_ros_modes_deliver_the_same_orders_with_the_same_gate_decisions(tmp_path, monkeypatch):
    from sim.cli import app, metrics_text
    from sim.fast.runner import run_fast
    from sim.ros_mode import run_ros
    from sim.scenario import load_scenario

    scenario = load_scenario(SCENARIO)
    fast = run_fast(scenario)
    marker = uuid.uuid4().hex
    monkeypatch.setenv("XBORDER_TEST_MARKER", marker)  # every process the ROS mode starts inherits it
    # 192 to 199: a range of its own, since it runs beside the other streams of `make test` (the Makefile)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(192 + os.getpid() % 8))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    ros = run_ros(scenario, SCALE, logs=tmp_path / "logs", until_done=True)
    assert marked_processes(marker) == [], "the ROS mode left processes running"

    expected, got = _outcome(fast.recorder), _outcome(ros.recorder)
    assert len(expected["orders"]) == 2 and {s for s, _ in expected["orders"].values()} == {"delivered"}, expected
    assert got == expected, (f"fast: {expected}\nros: {got} (logs in {tmp_path / 'logs'}; {ros.wall_s:.0f} s wall, "
                             f"the vehicles' clock at {ros.achieved_scale:.1f}x; alarms {dict(ros.recorder.alarms)}; "
                             f"each order's states: {_timelines(ros.recorder)})\n"
                             + _service_warnings(tmp_path / "logs" / "serve.log"))
    for mode in (fast, ros):  # the safety check ran on every crossing: both vehicles crossed, both checked
        assert mode.metrics["safety"]["crossings_checked"] == 2, mode.metrics["safety"]
        assert mode.metrics["safety"]["gate_recorded_crossings"] == 2, mode.metrics["safety"]
        assert mode.metrics["safety"]["crossings_without_both_clearances"] == 0
    fast_dwell, ros_dwell = _dwell_s(fast.recorder), _dwell_s(ros.recorder)
    assert all(ros_dwell[c] >= 0.85 * fast_dwell[c] for c in fast_dwell), (fast_dwell, ros_dwell)
    assert ros.metrics["customs_events"]["refused"] == {"genuine": 0}

    # the same metrics file: `xborder sim compare` reads both
    for name, run in (("fast", fast), ("ros", ros)):
        (tmp_path / f"{name}.json").write_text(metrics_text(run.metrics))
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "fast.json"), str(tmp_path / "ros.json")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "dwell_min.VN->CN.p50" in result.output, result.output
    print(json.dumps({"fast_dwell_min": {"+".join(c): round(s / 60, 1) for c, s in fast_dwell.items()},
                      "ros_dwell_min": {"+".join(c): round(s / 60, 1) for c, s in ros_dwell.items()},
                      "ros_wall_s": round(ros.wall_s), "ros_clock_scale": round(ros.achieved_scale, 1)}))
