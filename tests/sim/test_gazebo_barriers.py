"""Gate barriers follow the fleet's gate decisions: which gates serve which direction, when booms go up,
and the real node end to end (ZeroMQ decisions in, std_msgs/Float64 on the bridged ROS topics out)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fleet.customs.clearance import GateDecision
from fleet.maps import load_corridor
from sim.gazebo.barriers import CLOSED, BarrierSchedule, gate_directions
from sim.gazebo.world import BOOM_OPEN

XBORDER = Path(sys.executable).parent / "xborder"


def decision(vehicle: str, direction: str, allowed: bool) -> dict:
    return GateDecision(vehicle, direction, (), allowed, (), ()).as_dict()


def test_bac_luan_ii_gates_serve_the_direction_their_names_say(bac_luan_ii):
    served = gate_directions(bac_luan_ii)
    expected = {}
    for gate in served:
        side, other = ("VN", "CN") if gate.startswith("vn_") else ("CN", "VN")
        expected[gate] = [f"{side}->{other}"] if "_out_" in gate else [f"{other}->{side}"]
    assert served == expected and len(served) == 8


def test_toy_map_gates_serve_their_direction(toy_map_dir):
    assert gate_directions(load_corridor(toy_map_dir)) == {
        "la_gate_out": ["LA->TH"], "la_gate_in": ["TH->LA"], "th_gate_out": ["TH->LA"], "th_gate_in": ["LA->TH"]}


SERVED = {"a_out": ["A->B"], "b_in": ["A->B"], "b_out": ["B->A"], "a_in": ["B->A"]}


def test_an_allowed_crossing_raises_only_its_direction_until_the_hold_expires():
    schedule = BarrierSchedule(SERVED, hold_open_s=60)
    assert set(schedule.positions(0).values()) == {CLOSED}
    schedule.on_decision(decision("agv_001", "A->B", True), now=10)
    assert schedule.positions(69.9) == {"a_out": BOOM_OPEN, "b_in": BOOM_OPEN, "b_out": CLOSED, "a_in": CLOSED}
    assert set(schedule.positions(70).values()) == {CLOSED}


def test_a_refusal_withdraws_that_vehicles_hold_but_not_anothers():
    schedule = BarrierSchedule(SERVED, hold_open_s=60)
    schedule.on_decision(decision("agv_001", "A->B", True), now=0)
    schedule.on_decision(decision("agv_002", "A->B", True), now=1)
    schedule.on_decision(decision("agv_001", "A->B", False), now=2)
    assert schedule.positions(3)["a_out"] == BOOM_OPEN
    schedule.on_decision(decision("agv_002", "A->B", False), now=4)
    assert schedule.positions(5)["a_out"] == CLOSED


def test_a_refusal_alone_never_raises_a_barrier():
    schedule = BarrierSchedule(SERVED, hold_open_s=60)
    schedule.on_decision(decision("agv_001", "B->A", False), now=0)
    assert set(schedule.positions(1).values()) == {CLOSED}


@pytest.mark.ros
@pytest.mark.slow
def test_barrier_node_opens_the_bridged_topics_on_a_fleet_decision(tmp_path, ros_probe):
    from std_msgs.msg import Float64

    from fleet.transports.zmq_customs import ZmqPublisher
    from sim.gazebo.export import export_gazebo

    export_gazebo(Path(__file__).resolve().parents[2] / "maps" / "bac_luan_ii", tmp_path, count=0)
    fleet = ZmqPublisher("tcp://127.0.0.1:*")
    node_process = subprocess.Popen([str(XBORDER), "gazebo", "barriers", str(tmp_path), "--fleet-pub", fleet.endpoint],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    latest: dict[str, float] = {}
    for gate in ["vn_gate_out_1", "cn_gate_in_2", "vn_gate_in_1"]:
        ros_probe.node.create_subscription(Float64, f"/xborder/gates/{gate}/cmd_pos",
                                           lambda msg, gate=gate: latest.__setitem__(gate, msg.data), 10)
    try:
        assert ros_probe.spin_until(lambda: len(latest) == 3, 20), f"no barrier positions on ROS: {latest}"
        assert set(latest.values()) == {CLOSED}
        allowed = decision("agv_001", "VN->CN", True)
        # a ZeroMQ subscriber joins a moment after connecting: repeat the (idempotent) decision until seen
        assert ros_probe.spin_until(lambda: latest["vn_gate_out_1"] == latest["cn_gate_in_2"] == BOOM_OPEN, 15,
                                    on_each=lambda: fleet.publish("decision", allowed)), latest
        assert latest["vn_gate_in_1"] == CLOSED
        fleet.publish("decision", decision("agv_001", "VN->CN", False))
        assert ros_probe.spin_until(lambda: latest["vn_gate_out_1"] == latest["cn_gate_in_2"] == CLOSED, 10), latest
    finally:
        node_process.terminate()
        output = node_process.communicate(timeout=10)[0].decode()
        fleet.close()
    assert "vn_gate_out_1 barrier" in output
