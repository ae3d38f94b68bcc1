"""An agv_vehicle started with a parameter it cannot run with says which, in one line, and exits 2: before, a
vehicle id with a hyphen, an unknown operating mode or a whole-number speed was a Python traceback, and a top speed
of 0 or less ran and told the fleet in its factsheet (which made every dispatch tick fail)."""

from __future__ import annotations

import subprocess

import pytest
from agv_agent.vehicle_process import BAD_PARAMETER_EXIT

from sim.ros_fleet import VehicleSpec, vehicle_command
from tests.ros.test_ros_vehicles import spec

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.mark.parametrize(("vehicle_id", "params", "said"), [
    ("agv_params", {"vehicle_id": "agv-007"}, "vehicle_id: 'agv-007' is not a name the fleet can have"),
    ("agv_params", {"vehicle_id": "agv_007/order"}, "vehicle_id: 'agv_007/order' is not a name the fleet can have"),
    ("agv-007", {}, "Couldn't parse remap rule: '-r __ns:=/xborder/agv-007'"),
    ("agv_params", {"max_linear_speed": 0.0}, "max_linear_speed: 0.0 must be a number above 0"),
    ("agv_params", {"max_linear_speed": -3.0}, "max_linear_speed: -3.0 must be a number above 0"),
    ("agv_params", {"max_linear_decel": 0.0}, "max_linear_decel: 0.0 must be a number above 0"),
    ("agv_params", {"operating_mode": "AUTO"}, "operating_mode: 'AUTO' is none of AUTOMATIC, SEMIAUTOMATIC"),
    ("agv_params", {"initial_battery": 140.0}, "initial_battery: 140.0 must be from 0 to 100"),
    ("agv_params", {"state_rate_hz": 0.0}, "state_rate_hz: 0.0 must be a number above 0"),
    ("agv_params", {"rate_hz": 0.0}, "rate_hz: 0.0 must be a number above 0"),  # the simulated base's
    ("agv_params", {"handling_s": "3 s"}, "handling_s: '3 s' is not a number"),
])
def test_a_parameter_the_vehicle_cannot_run_with_is_named_in_one_line(vehicle_id, params, said):
    ran = subprocess.run(vehicle_command(VehicleSpec(vehicle_id, 0.0, 0.0), extra=params), capture_output=True,
                         text=True, timeout=60)
    assert ran.returncode == BAD_PARAMETER_EXIT, ran.stderr[-2000:]
    assert said in ran.stderr and "Traceback" not in ran.stderr, ran.stderr[-2000:]


def test_a_whole_number_for_a_speed_is_taken(bridge, vehicles):
    v = "agv_whole_speed"
    vehicles(spec(v, y=270), max_linear_speed=5)
    assert bridge.wait_for(lambda: bridge.factsheet(v) is not None, 20)
    assert bridge.factsheet(v).speed_max == 5.0
