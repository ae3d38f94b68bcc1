"""The whole product live, in real processes, started and stopped in one place: ``xborder serve``, simulated
vehicles (``agv_vehicle`` processes over DDS, on a time-scaled ROS ``/clock``) and both customs simulators
over ZeroMQ with CURVE. ``xborder demo``, ``xborder sim run --ros`` (:mod:`sim.ros_mode`) and the end-to-end tests
start it from here.

Time: the vehicles run ``scale`` times faster than the wall clock on :class:`sim.sim_clock.SimClock`; the fleet
manager stays on the wall clock, so its own durations (loading and unloading, its heartbeat) are given to it
divided by ``scale`` (:class:`Pace`), and the customs simulators run at the same ``--time-scale``.

Every child is in a process group of its own and tied to this process (:mod:`sim.processes`): :meth:`stop`
ends them in order (customs, vehicles — which tell the fleet OFFLINE —, the service, the clock), and a
launcher that dies outright still takes them along.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from sim.processes import spawn, stop_all
from sim.ros_fleet import VehicleSpec
from sim.service_process import BIN, FleetService

if TYPE_CHECKING:
    from planner.corridor import Corridor, Node

AUTHORITIES = {"VN_CUSTOMS": "VN", "CN_CUSTOMS": "CN"}
#: wall seconds without an order or heartbeat before a vehicle deems its fleet link lost (a loaded machine
#: stalls processes for seconds: the link timeout is kept in wall time whatever the scale)
VEHICLE_LINK_TIMEOUT_WALL_S = 6.25
#: wall seconds without a command before a simulated base stops (its watchdog)
BASE_WATCHDOG_WALL_S = 0.5


@dataclass(frozen=True)
class Pace:
    """How fast the live system runs: ``scale`` simulated seconds per wall second for the vehicles and the
    customs simulators, and the fleet's own timings that follow from it."""

    scale: float
    handling_s: float = 60.0  # loading or unloading at a dock, in simulated seconds

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"the time scale must be positive, not {self.scale}")

    def fleet_settings(self) -> dict[str, Any]:
        """The fleet section's timings: a heartbeat every 2 simulated seconds, loading and unloading in wall time."""
        return {"link": "ros", "heartbeat_s": min(1.0, 2.0 / self.scale),
                "dispatch": {"load_s": self.handling_s / self.scale, "unload_s": self.handling_s / self.scale,
                             "silent_after_s": 10.0}}

    def vehicle_params(self) -> dict[str, Any]:
        """What each vehicle is told: simulated time; its fleet link timeout and its base's command watchdog in
        simulated seconds that are a wall-clock span (a busy machine stalls a process for wall seconds, not
        simulated ones: a 0.5 s watchdog at 20x stopped a vehicle whenever its agent was 25 ms late); its
        simulated base integrating at the agent's control rate (20 Hz) rather than 50 Hz, to spare the CPU; a
        pick or drop taking :attr:`handling_s` (the order is loaded when the vehicle reports its pick done)."""
        return {"use_sim_time": True, "fleet_link_timeout_s": VEHICLE_LINK_TIMEOUT_WALL_S * self.scale,
                "cmd_timeout_s": BASE_WATCHDOG_WALL_S * self.scale, "rate_hz": 20.0,
                "handling_s": self.handling_s}


@dataclass(frozen=True)
class CustomsPlan:
    """What both customs simulators are started with (``xborder customs simulate``): the same seed and
    consignments, so that they talk about the same consignments."""

    consignments: int
    vehicles: int  # agv_001... are authorized to cross by both
    seed: int = 1
    time_scale: float | None = None  # simulated seconds per wall second; default: the live system's pace
    arrival_spread_s: float = 3600.0  # simulated seconds over which the declarations arrive
    backlog: int = 0  # of which this many in the first simulated minute: work for the vehicles from the start
    quick: int = 0  # of which the first this many cleared at once (green both sides): the first crossings come soon

    def profile(self) -> Any:
        from sim.customs_authority import Profile

        return Profile(consignments=self.consignments, vehicles=self.vehicles, seed=self.seed,
                       arrival_spread_s=self.arrival_spread_s, backlog=self.backlog, quick=self.quick)


def dock_spots(corridor: Corridor, count: int) -> list[VehicleSpec]:
    """Vehicles standing at the docks, those nearest their side's gates first, the sides taking turns (the start
    of a shift: containers loaded within seconds), then at parking spots (:func:`sim.ros_fleet.parking_spots`'
    order). Named agv_001..., as the customs simulators authorize them."""
    from fleet.vehicles.placement import parking_nodes, vehicle_id
    from planner.corridor import NodeKind
    from planner.routing import fastest_route

    def to_gates(dock: Node) -> float:
        gates = corridor.nodes_of(NodeKind.GATE, jurisdiction=dock.jurisdiction)
        return min(fastest_route(corridor.graph, dock.id, gate.id).time_s for gate in gates)

    sides = [sorted(corridor.nodes_of(NodeKind.DOCK, jurisdiction=side), key=lambda n: (to_gates(n), n.id))
             for side in corridor.jurisdictions]
    nodes = [spots[rank] for rank in range(max(map(len, sides))) for spots in sides if rank < len(spots)][:count]
    nodes += parking_nodes(corridor, count - len(nodes))
    return [VehicleSpec(vehicle_id(i), n.x, n.y, corridor.heading_into(n.id), n.id) for i, n in enumerate(nodes)]


def beyond_gates(corridor: Corridor) -> frozenset[str]:
    """The nodes between a side's last gate and the crossing lanes, and the crossing lanes' own: a vehicle seen at
    one has been let through its outbound customs gate."""
    from planner.corridor import NodeKind
    from planner.routing import NoRoute, fastest_route

    crossing = corridor.crossing_lanes
    on_bridge = {n for lane in crossing for n in (lane.source, lane.target)}
    out: set[str] = set(on_bridge)
    gates = {n.id for n in corridor.nodes_of(NodeKind.GATE)}
    for gate in gates:
        for start in {lane.source for lane in crossing} - {lane.target for lane in crossing}:
            try:
                route = fastest_route(corridor.graph, gate, start).nodes
            except NoRoute:
                continue
            if not gates & set(route[1:]):  # the last gate before the bridge, not one the route goes back through
                out |= set(route[1:])
    return frozenset(out)


def fleet_registry(corridor: Corridor, specs: list[VehicleSpec]) -> list[dict[str, Any]]:
    """The fleet section's ``vehicles`` for ``specs``: exactly the vehicles that run, each at home on its side."""
    return [{"id": s.vehicle_id, "home": corridor.nodes[s.node_id].jurisdiction, "start_node": s.node_id}
            for s in specs]


@dataclass
class LiveSystem:
    """A running set of processes; ``logs``: a folder for their output (default: this process's terminal)."""

    service: FleetService
    pace: Pace
    logs: Path | None = None
    vehicles: list[subprocess.Popen] = field(default_factory=list)
    #: how each vehicle process was started (its spec, its parameters, its place in ``vehicles``), to start it once
    #: more (:meth:`wait_online`)
    _starts: dict[str, tuple[VehicleSpec, dict[str, Any], int]] = field(default_factory=dict)
    customs: list[subprocess.Popen] = field(default_factory=list)
    clock: Any = None  # SimClock
    #: other fleet managers of an active/standby pair (``store.election``): the customs simulators are given
    #: their endpoints too, and they are stopped with the rest
    standbys: list[FleetService] = field(default_factory=list)
    _files: list[IO[bytes]] = field(default_factory=list)

    def start(self, vehicles: list[VehicleSpec], wait_s: float = 120.0) -> LiveSystem:
        """The clock, the vehicles (the service's registry must list them: :func:`fleet_registry`), then the
        service; returns when every vehicle is ONLINE and has reported its node."""
        self.start_vehicles(vehicles)
        self.start_service()
        return self.wait_online(wait_s)

    def start_service(self) -> LiveSystem:
        """The service (and the clock); until its vehicles report it plans nothing, and takes orders."""
        self._clock()
        self.service.start(log=self._log("serve"))
        return self

    def start_vehicles(self, vehicles: list[VehicleSpec], params: dict[str, Any] | None = None) -> LiveSystem:
        """The vehicle processes (and the clock); ``params``: agent parameters beside the pace's (e.g. a top
        speed)."""
        from sim.ros_fleet import spawn_vehicle

        self._clock()
        for spec in vehicles:
            extra = {**self.pace.vehicle_params(), **(params or {})}
            self._starts[spec.vehicle_id] = (spec, extra, len(self.vehicles))
            self.vehicles.append(spawn_vehicle(spec, log=self._log(spec.vehicle_id), extra=extra))
        return self

    def wait_online(self, wait_s: float = 120.0) -> LiveSystem:
        """Returns when every vehicle is ONLINE and has reported its node. A vehicle process that has not by
        ``wait_s`` is said on stderr and started once more (seen in CI at a load of 20: a vehicle ONLINE whose
        state never reached the fleet, a Fast DDS start that half failed); one that does not report then either
        raises, with what the fleet saw of every vehicle."""
        if self.wait_for(self._all_online, wait_s):
            return self
        for vehicle_id in self._not_reported():
            self._start_again(vehicle_id)
        if not self.wait_for(self._all_online, wait_s):
            raise TimeoutError(f"not every vehicle reported within {wait_s:.0f} s, twice: {self._not_reported()} "
                               f"(the fleet's view: {self.service.get('/vehicles')})")
        return self

    def _not_reported(self) -> list[str]:
        return [v["id"] for v in self.service.get("/vehicles") if not (v["connection"] == "ONLINE" and v["last_node"])]

    def _start_again(self, vehicle_id: str) -> None:
        from sim.ros_fleet import spawn_vehicle

        spec, extra, index = self._starts[vehicle_id]
        old = self.vehicles[index]
        print(f"{vehicle_id} did not report (its process {'running' if old.poll() is None else 'ended'}): "
              "started once more", file=sys.stderr)
        stop_all([old])
        self.vehicles[index] = spawn_vehicle(spec, log=self._log(spec.vehicle_id), extra=extra)

    def _clock(self) -> None:
        from sim.sim_clock import SimClock

        if self.clock is None:
            self.clock = SimClock(self.pace.scale)

    def _all_online(self) -> bool:
        return not self._not_reported()

    def start_customs(self, key_dir: Path, plan: CustomsPlan, output: int | IO[bytes] | None = None,
                      extra: list[str] | None = None) -> list[subprocess.Popen]:
        """Both simulators, their keys in ``key_dir``, at this pace; ``output``: where their report goes
        (default: the logs folder, or this terminal)."""
        for authority in AUTHORITIES:
            self._start_simulator(key_dir, authority, output, [
                "--consignments", str(plan.consignments), "--vehicles", str(plan.vehicles), "--seed", str(plan.seed),
                "--spread-s", str(plan.arrival_spread_s), "--backlog", str(plan.backlog), "--quick", str(plan.quick),
                "--time-scale", str(plan.time_scale or self.pace.scale), *(extra or [])])
        return self.customs[-len(AUTHORITIES):]

    def start_scheduled_customs(self, key_dir: Path, schedules: dict[str, Path]) -> list[subprocess.Popen]:
        """One simulator per authority (name -> its ``--schedule`` file, :func:`sim.customs_authority.
        write_schedule`), sending exactly those events at this pace."""
        for authority, schedule in schedules.items():
            self._start_simulator(key_dir, authority, None, ["--schedule", str(schedule),
                                                             "--time-scale", str(self.pace.scale)])
        return self.customs[-len(schedules):]

    def _start_simulator(self, key_dir: Path, authority: str, output: int | IO[bytes] | None,
                         options: list[str]) -> None:
        command = [str(BIN / "xborder"), "customs", "simulate", "--authority", authority,
                   "--key", str(key_dir / f"{authority}.key"), *self.service.simulator_args(key_dir, authority),
                   *[arg for standby in self.standbys for arg in ("--connect", standby.router)], *options]
        self.customs.append(spawn(command, stdout=output or self._log(authority), stderr=subprocess.STDOUT,
                                  text=output == subprocess.PIPE))

    def achieved_scale(self, since_wall: float, since_sim: float) -> float:
        """Simulated seconds per wall second since then: below the pace's scale when the machine cannot keep up."""
        return (self.clock.now() - since_sim) / max(1e-9, time.monotonic() - since_wall)

    def wait_for(self, predicate, timeout_s: float, poll_s: float = 1.0) -> bool:
        """Poll ``predicate`` until it holds (a restarting service's refused connections count as not yet)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return True
            except httpx.TransportError:
                pass
            time.sleep(poll_s)
        return False

    def processes(self) -> Iterator[subprocess.Popen]:
        yield from self.customs
        yield from self.vehicles
        for service in (self.service, *self.standbys):
            if service.process:
                yield service.process

    def stop(self) -> None:
        """Customs first (nothing new arrives), then the vehicles (SIGINT: each stops its base and says
        OFFLINE while the service still listens), then the service, then the clock."""
        stop_all(self.customs)
        stop_all(self.vehicles, signal.SIGINT)
        for service in (self.service, *self.standbys):
            service.stop()
        if self.clock is not None:
            self.clock.close()
            self.clock = None
        for handle in self._files:
            handle.close()
        self._files.clear()

    def __enter__(self) -> LiveSystem:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _log(self, name: str) -> IO[bytes] | None:
        if self.logs is None:
            return None
        self.logs.mkdir(parents=True, exist_ok=True)
        handle = (self.logs / f"{name}.log").open("wb")
        self._files.append(handle)
        return handle
