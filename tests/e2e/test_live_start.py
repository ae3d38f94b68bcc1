"""Starting the live system (``sim.live.LiveSystem``, what ``xborder demo`` and ``xborder sim run --ros`` use): a
vehicle process that never reports is started once more, not waited on for good."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.conftest import MAP, PACE, public_keys

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(600)]


def test_a_vehicle_process_that_never_reports_is_started_once_more(tmp_path, keys, capfd):
    from fleet.maps import load_corridor
    from sim.live import LiveSystem, fleet_registry
    from sim.processes import signal_group
    from sim.ros_fleet import parking_spots
    from sim.service_process import ServiceProcess

    specs = parking_spots(load_corridor(MAP), 2)
    fleet = {**PACE.fleet_settings(), "vehicles": fleet_registry(load_corridor(MAP), specs)}
    service = ServiceProcess(tmp_path, public_keys(keys), fleet=fleet, map_folder=MAP)
    with LiveSystem(service, PACE, logs=tmp_path / "logs") as system:
        system.start_vehicles(specs)
        hung = system.vehicles[1]
        signal_group(hung, signal.SIGSTOP)  # as a Fast DDS start that hangs: the process runs and says nothing
        system.start_service().wait_online(45)

        assert system.vehicles[1] is not hung and hung.poll() is not None  # the hung one stopped, a new one up
        reported = {v["id"]: v for v in system.service.get("/vehicles")}
        assert all(v["connection"] == "ONLINE" and v["last_node"] for v in reported.values()), reported
        said = capfd.readouterr().err
        assert f"{specs[1].vehicle_id} did not report (its process running): started once more" in said
