"""The whole product in real processes: ``xborder serve``, ``agv_vehicle`` processes over DDS on a time-scaled
ROS clock, the customs authorities over ZeroMQ. Isolated on a ROS domain of its own, loopback only."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sim.live import LiveSystem, Pace
from sim.service_process import FleetService

# 120 to 189 from the pid; `make test` runs the long runs beside the other e2e tests and gives each a domain of its own
# (XBORDER_E2E_ROS_DOMAIN=190, 191), so no two streams share one.
os.environ["ROS_DOMAIN_ID"] = os.environ.get("XBORDER_E2E_ROS_DOMAIN") or str(120 + os.getpid() % 70)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

MAP = Path(__file__).resolve().parents[2] / "maps" / "bac_luan_ii"
#: Simulated seconds per wall second for the vehicles (their own timers and rates, on /clock); loading and
#: unloading take 24 simulated seconds (2 s of wall time). The rest follows from it: sim.live.Pace.
PACE = Pace(12.0, handling_s=24.0)


@dataclass
class Deployment:
    """A running fleet manager with its vehicles (sim.live.LiveSystem); HTTP helpers with a dispatcher's token."""

    system: LiveSystem
    workdir: Path

    @property
    def service(self) -> FleetService:
        return self.system.service

    def headers(self, role: str = "dispatcher") -> dict[str, str]:
        return self.service.headers(role)

    def get(self, path: str, **params: Any) -> Any:
        return self.service.get(path, **params)

    def order(self, consignments: list[str], pickup: str, drop: str) -> str:
        reply = httpx.post(self.service.base + "/orders", json={"consignments": consignments, "pickup": pickup,
                                                                "drop": drop},
                           headers={**self.headers(), "Idempotency-Key": "-".join(consignments)}, timeout=10)
        assert reply.status_code in (200, 201), reply.text
        return reply.json()["id"]

    def orders(self, **params: Any) -> list[dict[str, Any]]:
        return self.get("/orders", limit=200, **params)["orders"]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, poll_s: float = 1.0) -> bool:
        return self.system.wait_for(predicate, timeout_s, poll_s)


@pytest.fixture(scope="module")
def deploy(tmp_path_factory) -> Iterator[Callable[..., Deployment]]:
    """``deploy(count, public_keys)``: the service with ``count`` vehicles at parking spots (their processes
    started and reporting), the previous deployment of the module stopped first (one clock, one fleet at a
    time on the domain); the last one is stopped at the end of the module. Logs in the work folder."""
    from fleet.maps import load_corridor
    from sim.live import fleet_registry
    from sim.ros_fleet import parking_spots
    from sim.service_process import ServiceProcess

    running: list[LiveSystem] = []

    def start(count: int, public_keys: dict[str, str], **config: Any) -> Deployment:
        while running:
            running.pop().stop()
        corridor = load_corridor(MAP)
        specs = parking_spots(corridor, count)
        fleet = {**PACE.fleet_settings(), "vehicles": fleet_registry(corridor, specs)}
        workdir = tmp_path_factory.mktemp("e2e")
        system = LiveSystem(ServiceProcess(workdir, public_keys, fleet=fleet, map_folder=MAP, **config), PACE,
                            logs=workdir / "logs")
        running.append(system)
        system.start(specs, wait_s=90)
        return Deployment(system, workdir)

    yield start
    while running:
        running.pop().stop()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    from fleet.customs.signing import generate_keys
    from fleet.transports.curve import generate_curve_keys

    folder = tmp_path_factory.mktemp("keys")
    for name in ("VN_CUSTOMS", "CN_CUSTOMS"):
        generate_keys(name, folder)
        generate_curve_keys(name, folder)
    return folder


def public_keys(keys: Path) -> dict[str, str]:
    return {name: (keys / f"{name}.pub").read_text().strip() for name in ("VN_CUSTOMS", "CN_CUSTOMS")}


def curve_keys(keys: Path) -> dict[str, str]:
    return {name: (keys / f"{name}.curve.pub").read_text().strip() for name in ("VN_CUSTOMS", "CN_CUSTOMS")}


def stuck_report(service: FleetService, logs: Path) -> str:
    """What a wait that timed out found, for its assertion message (a CI run keeps no work folder): each order
    with its timeline, each vehicle as the fleet manager sees it, and the warnings of every log."""
    lines = []
    for order in service.get("/orders", limit=200)["orders"]:
        timeline = service.get(f"/orders/{order['id']}")["timeline"]
        lines.append(f"{order['id']} {order['state']} on {order['vehicle_id']}: "
                     + " | ".join(f"{t['to_state']} ({t['reason']})" for t in timeline))
    for vehicle in service.get("/vehicles"):
        lines.append(", ".join(f"{key}={vehicle.get(key)}" for key in (
            "id", "connection", "in_service", "service_reason", "last_node", "job", "order_id", "released_nodes",
            "stalled_because", "errors")))
    for log in sorted(logs.glob("*.log")):
        warnings = [line for line in log.read_text(errors="replace").splitlines()
                    if " WARNING " in line or " ERROR " in line or "stalled" in line]
        lines += [f"-- {log.name}", *warnings[-40:]]
    return "\n".join(lines)


def docks(side: str) -> list[str]:
    from fleet.maps import load_corridor
    from planner.corridor import NodeKind

    return sorted(n.id for n in load_corridor(MAP).nodes_of(NodeKind.DOCK, jurisdiction=side))
