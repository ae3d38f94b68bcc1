"""The ROS mode: a scenario run by the real parts, time-scaled — ``xborder serve``, one ``agv_vehicle`` process
per AGV over DDS and both customs simulators over ZeroMQ with CURVE, started and stopped by
:class:`sim.live.LiveSystem` (as ``xborder demo`` starts them).

What it takes from the scenario, exactly as the fast mode draws it (the same functions, the same seed): the fleet
(the same AGVs at the same parking spots, the same ones authorized to cross), the day's orders (posted through
the HTTP API when they are ready) and each authority's decisions (channel, inspections, release, holds, outages:
the fast mode's own :class:`sim.fast.customs.CustomsSim`, run ahead of time and recorded, then sent by
``xborder customs simulate --schedule`` at the run's pace). It writes the fast mode's metrics JSON with the same
:class:`sim.fast.metrics.Recorder`, fed from the service's WebSocket stream (orders, crossings, alarms, vehicle
states), so ``xborder sim compare fast.json ros.json`` compares the two.

Differences, by construction (docs/simulation.md, "ROS mode"): the departure side's release does not wait for
the vehicle at the gate (the simulators send a fixed schedule; the release comes when the clearance is done, or
a gate pass after the declaration); faults other than customs outages (breakdowns, link losses, operator holds,
forged and equivocating events) are not injected; batteries start full. Simulated seconds are wall seconds since
the start times the scale: the fleet and the customs simulators keep to that; the vehicles' ``/clock`` falls
behind it when the machine cannot carry them (the achieved scale is printed).
"""

from __future__ import annotations

import functools
import itertools
import json
import queue
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fleet.maps import load_corridor
from fleet.orders import OrderState
from planner.corridor import Corridor, NodeKind
from planner.routing import NoRoute, fastest_route
from sim.customs_authority import Scheduled, write_schedule
from sim.fast.customs import CustomsSim, Ledger
from sim.fast.metrics import DemandOrder, Recorder, bridge_nodes_of
from sim.fast.runner import Agenda, demand_of, fleet_registry_of
from sim.live import LiveSystem, Pace
from sim.order_feed import OrderFeed, PlannedOrder
from sim.ros_fleet import VehicleSpec
from sim.scenario import CustomsSide, Scenario

__all__ = ["RosError", "RosRun", "ScheduledCustoms", "run_ros", "scheduled_customs"]

#: Simulated seconds per wall second by default: what two cores carry for a handful of AGVs (docs/simulation.md)
DEFAULT_SCALE = 10.0
ENDED = frozenset({OrderState.DELIVERED, OrderState.CANCELLED, OrderState.FAILED})
#: Wall seconds between two turns of the run's loop (orders posted, stream read, progress)
POLL_S = 0.2


class RosError(RuntimeError):
    """A scenario the ROS mode cannot run, or a part that failed while it ran."""


class _Ack:
    acknowledged = True


class _RecordingGate:
    """Stands in for the fleet's gate while the authorities' decisions are drawn ahead of the run: every event
    is kept with the simulated second it is sent at."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.sent: list[tuple[float, dict[str, Any]]] = []

    def ingest(self, event: dict[str, Any], _source: str) -> _Ack:
        self.sent.append((self.now(), event))
        return _Ack()

    def ingest_many(self, events: list[tuple[dict[str, Any], Any]], source: str) -> list[_Ack]:
        return [self.ingest(event, source) for event, _ in events]


@dataclass
class ScheduledCustoms:
    """Both authorities' decisions for a run, in time order: what their simulators send (``schedules``: by
    authority, simulated seconds after the start) and, for the safety check and the gate-wait causes, what they
    had decided by a given time (:meth:`advance`: the ledger, kept from the decisions, never from the fleet).
    The attributes the :class:`Recorder` reads are those of :class:`CustomsSim`."""

    sides: dict[str, CustomsSide]
    names: list[str]
    side_of: dict[str, str]
    outages: dict[str, list[tuple[float, float]]]
    schedules: dict[str, list[Scheduled]]
    decisions: list[tuple[float, float, dict[str, Any]]]  # (decided, sent, event), by time decided
    ledger: Ledger = field(default_factory=Ledger)
    delivered_release: dict[tuple[str, str], float] = field(default_factory=dict)
    _next: int = 0

    def advance(self, t: float) -> None:
        """Apply every decision taken by ``t``; a release counts as delivered once sent."""
        while self._next < len(self.decisions) and self.decisions[self._next][0] <= t:
            _decided, sent, event = self.decisions[self._next]
            self.ledger.record(event["authority"], event["type"], event["consignment_id"], event["vehicle_id"])
            if event["type"] == "released":
                self.delivered_release[(event["consignment_id"], event["authority"])] = sent
            self._next += 1

    def at_gate(self, consignment: str) -> None:
        """Nothing to do: the schedule is fixed before the run (the release does not wait for the gate)."""

    def sent_by(self, t: float) -> int:
        return sum(1 for events in self.schedules.values() for e in events if e.at <= t)


def scheduled_customs(scenario: Scenario, demand: list[DemandOrder], crossers: list[str]) -> ScheduledCustoms:
    """The authorities' decisions for ``demand``, drawn by the fast mode's :class:`CustomsSim` from the seed and
    recorded: authorizations of ``crossers``, heartbeats, outages; each consignment declared
    ``declared_before_min`` before it is ready and its departure-side gate pass counted from the declaration."""
    quiet = scenario.model_copy(update={"faults": scenario.faults.model_copy(
        update={"forged_events": 0, "equivocating_events": 0})})  # re-signed by the simulator, they would be genuine
    agenda, clock = Agenda(), [0.0]
    customs = CustomsSim(quiet, schedule=agenda.at, epoch=0.0, now=lambda: clock[0])
    gate = _RecordingGate(lambda: clock[0])
    customs.gate = gate  # type: ignore[assignment]  # the recording stands in for the fleet's gate
    customs.start(crossers, scenario.duration_s)
    lead = scenario.demand.declared_before_min * 60
    for item in demand:
        declared = max(0.0, item.ready_s - lead)
        for consignment in item.consignments:
            customs.declare(consignment, item.direction, declared)
            agenda.at(declared, functools.partial(customs.at_gate, consignment))
    while agenda.next_time() <= scenario.duration_s:
        clock[0] = agenda.next_time()
        agenda.run_due(clock[0])
    schedules: dict[str, list[Scheduled]] = defaultdict(list)
    decisions = []
    for sent, event in gate.sent:
        fields = {k: event[k] for k in ("type", "consignment_id", "vehicle_id", "direction", "payload")}
        schedules[event["authority"]].append(Scheduled(sent, fields))
        decisions.append((datetime.fromisoformat(event["issued_at"]).timestamp(), sent, event))
    decisions.sort(key=lambda d: (d[0], d[1]))
    return ScheduledCustoms(dict(scenario.customs), customs.names, customs.side_of, customs.outages,
                            dict(schedules), decisions)


class VehicleTrail:
    """Where each vehicle has been, from the fleet's vehicle states: node to node (the nodes between two states
    filled in along the fastest route: a state can come after more than one node), the distance driven and the
    time spent charging."""

    def __init__(self, corridor: Corridor, recorder: Recorder, bridge_nodes: frozenset[str]) -> None:
        self.corridor, self.recorder, self.bridge_nodes = corridor, recorder, bridge_nodes
        self.node: dict[str, str] = {}
        self.metres: dict[str, float] = defaultdict(float)
        self.charging_s: dict[str, float] = defaultdict(float)
        self._charging_since: dict[str, float] = {}

    def update(self, view: dict[str, Any], t: float) -> None:
        vehicle, node = view["id"], view.get("last_node")
        if view.get("job") == "charge":
            self._charging_since.setdefault(vehicle, t)
        elif vehicle in self._charging_since:
            self.charging_s[vehicle] += t - self._charging_since.pop(vehicle)
        before = self.node.get(vehicle)
        if not node or node == before:
            return
        self.node[vehicle] = node
        if before is None:
            return
        try:
            path = fastest_route(self.corridor.graph, before, node).nodes
        except NoRoute:
            path = (before, node)
        for a, b in itertools.pairwise(path):
            if self.corridor.graph.has_edge(a, b):
                self.metres[vehicle] += self.corridor.graph.edges[a, b]["length"]
            self.recorder.on_departure(vehicle, a, t)
            self.recorder.on_arrival(vehicle, b, t, self.bridge_nodes)

    def odometer_m(self, vehicle: str) -> float:
        return float(self.metres[vehicle])

    def close(self, t: float) -> None:
        for vehicle, since in self._charging_since.items():
            self.charging_s[vehicle] += t - since
        self._charging_since.clear()


class StreamReader:
    """The service's WebSocket stream on a thread of its own: each message with the wall time the service sent it
    (or, from a service that does not say, when it came)."""

    TOPICS = "order,crossing,alarm,decision,vehicle"

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.messages: queue.Queue[tuple[float, str, dict[str, Any]]] = queue.Queue()
        self.error: Exception | None = None
        self._socket = connect(url, open_timeout=10, max_size=1 << 22)
        self._thread = threading.Thread(target=self._run, name="ros-mode-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosedOK

        try:
            for raw in self._socket:
                message = json.loads(raw)
                self.messages.put((float(message.get("sent_at") or time.time()), message["topic"], message["data"]))
        except ConnectionClosedOK:
            pass
        except Exception as exc:  # handed to the run's loop, which stops the run with it
            self.error = exc

    def drain(self) -> list[tuple[float, str, dict[str, Any]]]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=5)


@dataclass
class RosRun:
    """A finished ROS-mode run: its metrics (the fast mode's JSON), what the plots draw, and how it went."""

    scenario: Scenario
    metrics: dict[str, Any]
    recorder: Recorder
    corridor: Corridor
    wall_s: float
    achieved_scale: float
    refused_orders: list[tuple[PlannedOrder, str]]


def run_ros(scenario: Scenario, scale: float = DEFAULT_SCALE, logs: Path | None = None,
            progress: Callable[[float], None] | None = None, until_done: bool = False) -> RosRun:
    """Run ``scenario`` with the real parts at ``scale`` simulated seconds per wall second; everything started
    is stopped on return, on an error and on Ctrl-C. ``logs``: a folder for every process's output;
    ``until_done``: stop as soon as every order of the demand is posted and has ended (delivered, cancelled or
    failed), the scenario's duration being the longest it runs (the metrics then cover the time it ran)."""
    from fleet.customs.signing import generate_keys
    from fleet.transports.curve import generate_curve_keys
    from sim.service_process import ServiceProcess

    started = time.monotonic()
    corridor = load_corridor(scenario.map_folder())
    registry = fleet_registry_of(scenario, corridor)
    demand = demand_of(scenario, corridor)
    customs = scheduled_customs(scenario, demand, [v["id"] for v in registry if v["may_cross"]])
    pace = Pace(scale)
    work = Path(tempfile.mkdtemp(prefix="xborder-ros-"))
    for name in customs.names:
        generate_keys(name, work)
        generate_curve_keys(name, work)
    fleet = {**pace.fleet_settings(), "vehicles": registry}
    service = ServiceProcess(work, {n: (work / f"{n}.pub").read_text().strip() for n in customs.names},
                             link_timeout_s=scenario.link_timeout_s / scale, fleet=fleet,
                             map_folder=Path(scenario.map),
                             curve_public_keys={n: (work / f"{n}.curve.pub").read_text().strip()
                                                for n in customs.names})
    specs = [VehicleSpec(v["id"], corridor.nodes[v["start_node"]].x, corridor.nodes[v["start_node"]].y,
                         corridor.heading_into(v["start_node"]), v["start_node"]) for v in registry]
    with LiveSystem(service, pace, logs=logs or work / "logs") as system:
        system.start_service()
        reader = StreamReader(f"ws://127.0.0.1:{service.http}/api/v1/stream?token={service.tokens['viewer']}"
                              f"&topics={StreamReader.TOPICS}")
        try:
            system.start_vehicles(specs, params={"max_linear_speed": scenario.fleet.max_speed_kmh / 3.6})
            system.wait_online(max(120.0, 10.0 * len(specs)))
            reader.drain()  # the vehicles' first states: where they stand
            return _drive(scenario, corridor, system, reader, customs, demand, registry, work, started, progress,
                          until_done)
        finally:
            reader.close()


def _drive(scenario: Scenario, corridor: Corridor, system: LiveSystem, reader: StreamReader,
           customs: ScheduledCustoms, demand: list[DemandOrder], registry: list[dict[str, Any]], work: Path,
           started: float, progress: Callable[[float], None] | None, until_done: bool) -> RosRun:
    scale = system.pace.scale
    t0 = time.time() + 2.0  # the simulators' first events are due 2 s from now: their processes start meanwhile
    now = [0.0]
    recorder = Recorder(lambda: now[0], customs, lambda v: trail.odometer_m(v),  # type: ignore[arg-type]
                        scenario.warmup_min * 60)
    crossing = corridor.crossing_lanes
    ends = {lane.target for lane in crossing}
    recorder.before_crossing = {lane.source for lane in crossing if lane.source not in ends}
    recorder.gates = {n.id for n in corridor.nodes_of(NodeKind.GATE)}
    trail = VehicleTrail(corridor, recorder, bridge_nodes_of(corridor))
    system.start_scheduled_customs(work, {name: write_schedule(work / f"{name}.schedule.json", t0, items)
                                          for name, items in customs.schedules.items()})
    by_consignments = {item.consignments: item for item in demand}
    feed = OrderFeed(system.service, [PlannedOrder(d.ready_s, d.consignments, d.direction, d.pickup, d.drop)
                                      for d in demand], scale, t0)
    since = (time.monotonic(), system.clock.now())
    end = scenario.duration_s
    while True:
        wall = time.time()
        t = (wall - t0) * scale
        # the duration is bounded on the vehicles' clock too: a busy machine slows it (whole steps only), and
        # an order the fast mode delivers in 38 min was still on its way at 2 h of wall-scaled time in a CI run
        lived = system.clock.now() - since[1]
        if min(t, lived) >= end or (until_done and not feed.pending and _all_ended(recorder)):
            end = min(t, end)
            break
        for order_id, planned in feed.post_due(wall):
            recorder.add_order(order_id, by_consignments[planned.consignments])
        for at, topic, data in reader.drain():
            now[0] = (at - t0) * scale
            customs.advance(now[0])
            if topic == "vehicle":
                trail.update(data, now[0])
            else:
                recorder.on_bus(topic, data)
        customs.advance(t)
        if reader.error is not None:
            raise RosError(f"the service's stream failed: {reader.error}")
        ended = [p for p in system.processes() if p.poll() is not None]
        if ended:
            raise RosError(f"a process ended: {ended[0].args!s} (logs in {system.logs})")
        if progress is not None:
            progress(max(0.0, t))
        time.sleep(POLL_S)
    achieved = system.achieved_scale(*since)
    now[0] = end
    trail.close(end)
    fleet = [v["id"] for v in registry]
    metrics = recorder.metrics(
        scenario={"name": scenario.name, "seed": scenario.seed, "map": Path(scenario.map).name,
                  "operating_model": str(scenario.operating_model)}, directions_ordered=scenario.demand.per_hour,
        duration_s=end, fleet=fleet, total_m={v: trail.odometer_m(v) for v in fleet},
        charging_s={v: trail.charging_s[v] for v in fleet},
        kwh_per_km=scenario.fleet.battery.consumption_kwh_per_km,
        customs_refused={"genuine": _refused_events(system)}, customs_sent={"genuine": customs.sent_by(end)},
        orders_due=len(demand))
    return RosRun(scenario, metrics, recorder, corridor, time.monotonic() - started, achieved, feed.refused)


def _all_ended(recorder: Recorder) -> bool:
    return all(log.states and log.states[-1][1] in ENDED for log in recorder.orders.values())


def _refused_events(system: LiveSystem) -> int:
    """Customs events the service refused (its own counter): none is expected from genuine simulators."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(system.service.base.removesuffix("/api/v1") + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == "xborder_customs_events":
            return sum(int(s.value) for s in family.samples if s.labels.get("outcome") == "refused")
    return 0
