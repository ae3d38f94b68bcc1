"""The whole product in real processes: ``xborder serve``, ``agv_vehicle`` processes over DDS on a time-scaled
ROS clock, the customs authorities over ZeroMQ. Isolated on a ROS domain of its own, loopback only."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ["ROS_DOMAIN_ID"] = str(120 + os.getpid() % 80)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

MAP = Path(__file__).resolve().parents[2] / "maps" / "bac_luan_ii"
#: Simulated seconds per wall second for the vehicles (their own timers and rates, on /clock).
TIME_SCALE = 12.0
#: What the vehicles are told: simulated time, a fleet link timeout of 75 simulated seconds (about 6 s of wall time),
#: the simulated base integrating at the agent's control rate (20 Hz) rather than 50 Hz, to spare the CPU.
VEHICLE_PARAMS = {"use_sim_time": True, "fleet_link_timeout_s": 75.0, "rate_hz": 20.0}


@dataclass
class Deployment:
    """A running fleet manager with its vehicles; HTTP helpers with a dispatcher's token."""

    service: Any
    workdir: Path
    vehicles: list = field(default_factory=list)

    def headers(self, role: str = "dispatcher") -> dict[str, str]:
        from sim.service_process import token_for

        return {"Authorization": f"Bearer {token_for(role)}"}

    def get(self, path: str, **params: Any) -> Any:
        reply = httpx.get(self.service.base + path, params=params, headers=self.headers("viewer"), timeout=10)
        reply.raise_for_status()
        return reply.json()

    def order(self, consignments: list[str], pickup: str, drop: str) -> str:
        reply = httpx.post(self.service.base + "/orders", json={"consignments": consignments, "pickup": pickup,
                                                                "drop": drop},
                           headers={**self.headers(), "Idempotency-Key": "-".join(consignments)}, timeout=10)
        assert reply.status_code in (200, 201), reply.text
        return reply.json()["id"]

    def orders(self, **params: Any) -> list[dict[str, Any]]:
        return self.get("/orders", limit=200, **params)["orders"]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, poll_s: float = 1.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return True
            except httpx.TransportError:
                pass  # the service is restarting
            time.sleep(poll_s)
        return False


@pytest.fixture(scope="module")
def sim_clock() -> Iterator[Any]:
    from sim.sim_clock import SimClock

    clock = SimClock(TIME_SCALE)
    yield clock
    clock.close()


@pytest.fixture(scope="module")
def deploy(tmp_path_factory, sim_clock) -> Iterator[Callable[..., Deployment]]:
    """``deploy(count, public_keys)``: the service with ``count`` vehicles at parking spots (their processes
    started and reporting); everything is stopped at the end of the module."""
    from fleet.maps import load_corridor
    from sim.ros_fleet import parking_spots, spawn_vehicle
    from sim.service_process import ServiceProcess

    started: list[Deployment] = []

    def start(count: int, public_keys: dict[str, str], **config: Any) -> Deployment:
        specs = parking_spots(load_corridor(MAP), count)
        fleet = {"link": "ros", "heartbeat_s": 1.0 / TIME_SCALE * 2,
                 "vehicles": [{"id": s.vehicle_id, "home": load_corridor(MAP).nodes[s.node_id].jurisdiction,
                               "start_node": s.node_id} for s in specs],
                 "dispatch": {"load_s": 2.0, "unload_s": 2.0, "silent_after_s": 10.0}}
        workdir = tmp_path_factory.mktemp("e2e")
        service = ServiceProcess(workdir, public_keys, fleet=fleet, map_folder=MAP, **config)
        deployment = Deployment(service, workdir)
        started.append(deployment)
        deployment.vehicles = [spawn_vehicle(s, extra=VEHICLE_PARAMS) for s in specs]
        service.start()
        assert deployment.wait_for(lambda: all(v["connection"] == "ONLINE" and v["last_node"] for v in
                                               deployment.get("/vehicles")), 90), deployment.get("/vehicles")
        return deployment

    yield start
    for deployment in started:
        deployment.service.stop()
        for process in deployment.vehicles:
            process.terminate()
        for process in deployment.vehicles:
            try:
                process.wait(timeout=10)
            except Exception:
                process.kill()
