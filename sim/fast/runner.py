"""The fast mode: a scenario's day in one process on simulated time.

The fleet manager is built by its own :func:`fleet.services.build_services` (store, customs gate, orders,
alarms, planner, dispatch loop), on a simulated clock and with the vehicles behind an :class:`EventLink`;
nothing is started (no threads, no sockets listening), and the simulator calls ``Dispatcher.tick`` itself.
Time jumps from one event to the next: a vehicle reaching a node or leaving one behind, a customs event, an
order, a fault. The dispatch loop ticks at its own rate (``fleet.dispatch.tick_hz``) while anything happens,
and every ``IDLE_TICK_S`` otherwise (its own timers: load and unload times, retries).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from agv_agent.tracker import Limits

from fleet.config import Settings
from fleet.customs.signing import public_key_b64
from fleet.dispatch import DispatchSettings
from fleet.events import Topic
from fleet.heap import settled_heap
from fleet.maps import load_corridor
from fleet.orders import OrderCreate
from fleet.services import Services, build_services
from fleet.vehicles.placement import parking_nodes, vehicle_id
from planner.corridor import Corridor, NodeKind
from planner.schedule import FollowingRules
from sim.fast.customs import CustomsSim
from sim.fast.metrics import DemandOrder, Recorder, bridge_nodes_of
from sim.fast.vehicles import EventLink
from sim.scenario import OperatingModel, Scenario

__all__ = ["EPOCH", "Agenda", "FastRun", "SimError", "demand_of", "fleet_registry_of", "run_fast"]

#: The simulated day starts at midnight UTC of this date (a fixed date: the run is repeatable to the byte).
EPOCH = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
IDLE_TICK_S = 5.0
#: CP-SAT's deterministic time for an assignment round (the wall-clock limit's 0.05 s; the rounds of a whole
#: ``target_2030`` day were proved optimal in at most 4 ms of wall time)
ASSIGN_WORK_LIMIT = 0.05


class SimError(RuntimeError):
    """A scenario the fast mode cannot run as asked."""


class SimClock:
    """Simulated wall-clock seconds: ``EPOCH`` plus the seconds simulated so far."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return EPOCH + self.t


class Agenda:
    """Things to do at simulated times, in time order (ties in the order they were planned)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._count = 0

    def at(self, t: float, action: Callable[[], None]) -> None:
        self._count += 1
        heapq.heappush(self._heap, (t, self._count, action))

    def next_time(self) -> float:
        return self._heap[0][0] if self._heap else math.inf

    def run_due(self, t: float) -> int:
        done = 0
        while self._heap and self._heap[0][0] <= t:
            heapq.heappop(self._heap)[2]()
            done += 1
        return done


@dataclass
class FastRun:
    """A finished run: its metrics (the JSON), what the plots draw, and how fast it went (not in the JSON)."""

    scenario: Scenario
    metrics: dict[str, Any]
    recorder: Recorder
    corridor: Corridor
    wall_s: float
    ticks: int
    vehicle_events: int
    stats: dict[str, float] = field(default_factory=dict)


def demand_of(scenario: Scenario, corridor: Corridor) -> list[DemandOrder]:
    """The day's orders: per direction and hour a Poisson number, at uniform times, dock to dock."""
    rng = np.random.default_rng(scenario.seed)
    pick = random.Random(f"{scenario.seed}/docks")
    docks = {side: sorted(n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction=side))
             for side in corridor.jurisdictions}
    times: list[tuple[float, str]] = []
    start = scenario.warmup_min * 60
    last = scenario.duration_s if scenario.demand.last_order_min is None else \
        min(scenario.duration_s, 60 * scenario.demand.last_order_min)
    for direction in sorted(scenario.demand.per_hour):
        hour = 0
        while hour * 3600 < last:
            lo, hi = max(hour * 3600.0, start), min((hour + 1) * 3600.0, last)
            if hi > lo:
                count = rng.poisson(scenario.demand.rate(direction, hour) * (hi - lo) / 3600)
                times += [(float(t), direction) for t in rng.uniform(lo, hi, count)]
            hour += 1
    times.sort()
    out = []
    low, high = scenario.demand.containers
    for i, (t, direction) in enumerate(times):
        origin, destination = direction.split("->")
        if origin not in docks or destination not in docks:
            raise SimError(f"demand.per_hour: {direction} is not between the map's sides {list(docks)}")
        count = pick.randint(low, high)
        consignments = tuple(f"{origin}-S{scenario.seed % 10000:04d}{i:07d}{chr(65 + k)}" for k in range(count))
        out.append(DemandOrder(i, t, direction, pick.choice(docks[origin]), pick.choice(docks[destination]),
                               consignments))
    return out


def _poisson_times(rng: random.Random, per_day: float, duration_s: float) -> list[float]:
    out: list[float] = []
    t = 0.0
    if per_day <= 0:
        return out
    while True:
        t += rng.expovariate(per_day / 86400)
        if t >= duration_s:
            return out
        out.append(t)


def _scratch_dir() -> Path:
    """A folder for the run's store: in memory (/dev/shm) where there is one, so commits cost no disk flush."""
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="xborder-sim-", dir=shm if shm.is_dir() else None))


def run_fast(scenario: Scenario, progress: Callable[[float], None] | None = None,
             corridor: Corridor | None = None) -> FastRun:
    """Run ``scenario`` in fast mode and return what it measured. ``progress(simulated_seconds)`` is called as
    the run goes; ``corridor``: the scenario's map, if already loaded. Raises :class:`SimError` for what the
    fast mode cannot run."""
    started = time.perf_counter()
    corridor = operated(corridor or load_corridor(scenario.map_folder()), scenario.operating_model)
    _check_holds(scenario, corridor)
    folder = _scratch_dir()
    try:
        return _run(scenario, corridor, folder, progress, started)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def operated(corridor: Corridor, model: OperatingModel) -> Corridor:
    """The map run the way the scenario says (its ``handoff_mode``): a map drawn for relay may still be run
    through (trips cross over the pad); relay needs a handoff pad."""
    if model == OperatingModel.RELAY and not corridor.nodes_of(NodeKind.HANDOFF):
        raise SimError(f"operating_model: relay needs a handoff pad, and map {corridor.name!r} has none")
    if corridor.parameters.get("handoff_mode", "through") == model:
        return corridor
    return dataclasses.replace(corridor, parameters=MappingProxyType({**corridor.parameters,
                                                                      "handoff_mode": str(model)}))


def _check_holds(scenario: Scenario, corridor: Corridor) -> None:
    """Each operator hold names a gate of its side, or none (every gate of the side): refused before the run, not
    when the hold comes due, and never another side's gate counted as this side's hold."""
    for i, hold in enumerate(scenario.faults.operator_holds):
        if hold.gate is None:
            continue
        node = corridor.nodes.get(hold.gate)
        if node is None or node.kind != NodeKind.GATE:
            raise SimError(f"faults.operator_holds.{i}.gate: {hold.gate!r} is not a gate of map {corridor.name!r}")
        if node.jurisdiction != hold.side:
            raise SimError(f"faults.operator_holds.{i}.gate: {hold.gate!r} is a gate of {node.jurisdiction}, not of "
                           f"{hold.side} (its side)")


def fleet_registry_of(scenario: Scenario, corridor: Corridor) -> list[dict[str, Any]]:
    """The fleet section's ``vehicles``: one per parking spot (agv_001...), a ``cross_share`` of them, drawn from
    the seed, authorized to cross. Both modes start the same fleet at the same spots. :class:`SimError` when the
    map has fewer parking spots than the fleet."""
    rng = random.Random(f"{scenario.seed}/fleet")
    try:
        spots = parking_nodes(corridor, scenario.fleet.size)
    except ValueError as exc:
        raise SimError(f"fleet.size: {exc}") from None
    crossers = set(rng.sample(range(len(spots)), round(scenario.fleet.cross_share * len(spots))))
    return [{"id": vehicle_id(i), "home": n.jurisdiction, "may_cross": i in crossers, "start_node": n.id}
            for i, n in enumerate(spots)]


def _settings(scenario: Scenario, corridor: Corridor, customs: CustomsSim, folder: Path) -> Settings:
    vehicles = fleet_registry_of(scenario, corridor)
    return Settings.model_validate({
        "store": {"path": str(folder / "fleet.db")},
        "map": str(corridor_folder(scenario)),
        # the assignment stops after a deterministic amount of work, not at a wall-clock limit: the same metrics
        # for a seed on a busy machine too (at a load average of 10, a day was once seen to differ)
        "fleet": {"link": "inprocess", "vehicles": vehicles, "dispatch": {"assign_work_limit": ASSIGN_WORK_LIMIT}},
        "customs": {"link_timeout_s": scenario.link_timeout_s,
                    "zmq": {"router": "tcp://127.0.0.1:*", "pub": "tcp://127.0.0.1:*"},
                    "authorities": {a.name: {"public_key": public_key_b64(a.public_key), "side": a.side}
                                    for a in customs.authorities()}}})


def corridor_folder(scenario: Scenario) -> Path:
    return scenario.map_folder()


def _run(scenario: Scenario, corridor: Corridor, folder: Path, progress: Callable[[float], None] | None,
         started: float) -> FastRun:
    clock, agenda = SimClock(), Agenda()

    def now() -> float:
        return clock.t

    speed = scenario.fleet.max_speed_kmh / 3.6
    battery = scenario.fleet.battery
    rules = FollowingRules.from_parameters(corridor.parameters)  # what the dispatcher counts as having left a node
    link = EventLink(clock, clear_m=rules.vehicle_length_m + rules.standstill_gap_m,
                     limits=Limits(max_linear_speed=speed),
                     battery=(battery.capacity_kwh, battery.consumption_kwh_per_km, battery.charging_kw),
                     handling_s=DispatchSettings().load_s)  # a pick or drop takes what the dispatcher plans for
    customs = CustomsSim(scenario, schedule=agenda.at, epoch=EPOCH, now=now)
    settings = _settings(scenario, corridor, customs, folder)
    services = build_services(settings, link=link, clock=clock, corridor=corridor)
    try:
        with settled_heap():  # as `xborder serve` does (fleet/heap.py); a sweep's next day collects this one's
            return _simulate(scenario, corridor, services, link, customs, clock, agenda, progress, started)
    finally:
        services.close()


def _simulate(scenario: Scenario, corridor: Corridor, services: Services, link: EventLink, customs: CustomsSim,
              clock: SimClock, agenda: Agenda, progress: Callable[[float], None] | None, started: float) -> FastRun:
    customs.gate = services.gate
    rng = random.Random(f"{scenario.seed}/vehicles")
    records = services.registry.all()
    for record in records:
        node = corridor.nodes[record.start_node]
        link.spawn(record.id, node.x, node.y, corridor.heading_into(node.id), node.id,
                   battery=rng.uniform(*scenario.fleet.battery.initial_percent))
    recorder = Recorder(lambda: clock.t, customs, link.odometer_m, scenario.warmup_min * 60)
    services.bus.subscribe(recorder.on_bus, topics=(Topic.ORDER, Topic.CROSSING, Topic.ALARM, Topic.DECISION))
    crossing = corridor.crossing_lanes
    bridge_nodes = bridge_nodes_of(corridor)
    ends = {lane.target for lane in crossing}
    recorder.before_crossing = {lane.source for lane in crossing if lane.source not in ends}
    recorder.gates = {n.id for n in corridor.nodes_of(NodeKind.GATE)}
    link.watched = {(corridor.nodes[n].x, corridor.nodes[n].y): n for n in recorder.before_crossing | recorder.gates}
    link.on_arrival = lambda v, n, t: recorder.on_arrival(v, n, t - EPOCH, bridge_nodes)
    link.on_departure = lambda v, n, t: recorder.on_departure(v, n, t - EPOCH)

    duration = scenario.duration_s
    customs.start([r.id for r in records if r.may_cross], duration)
    demand = demand_of(scenario, corridor)
    lead = scenario.demand.declared_before_min * 60
    for item in demand:
        for consignment in item.consignments:
            customs.declare(consignment, item.direction, max(0.0, item.ready_s - lead))
        agenda.at(item.ready_s, partial(_create, services, recorder, item, scenario, clock))
    _plan_faults(scenario, services, link, recorder, agenda, corridor, [r.id for r in records])

    dispatcher = services.dispatcher
    period = 1.0 / dispatcher.settings.tick_hz
    last_tick, tick_due, ticks = -math.inf, 0.0, 0
    next_report = 0.0
    spent = dict.fromkeys(("dispatch_tick_s", "vehicles_s", "customs_orders_faults_s"), 0.0)
    cpu, loop_started = time.process_time(), time.perf_counter()
    while True:
        vehicle_next = link.next_event()  # on the simulated wall clock, like everything the fleet sees
        t = min(agenda.next_time(), vehicle_next - EPOCH if vehicle_next is not None else math.inf, tick_due)
        if t > duration:
            break
        clock.t = t
        mark = time.perf_counter()
        busy = agenda.run_due(t)
        middle = time.perf_counter()
        link.advance_to(EPOCH + t)
        spent["customs_orders_faults_s"] += middle - mark
        spent["vehicles_s"] += time.perf_counter() - middle
        if busy or link.changed:
            link.changed = False
            tick_due = min(tick_due, max(last_tick + period, math.ceil(t / period - 1e-9) * period))
        if t >= tick_due:
            mark = time.perf_counter()
            dispatcher.tick()
            spent["dispatch_tick_s"] += time.perf_counter() - mark
            ticks += 1
            last_tick = t
            tick_due = t + period if link.changed else t + IDLE_TICK_S
            link.changed = False
        if progress is not None and t >= next_report:
            progress(t)
            next_report = t + 60.0
    clock.t = duration
    if progress is not None:
        progress(duration)
    fleet = [r.id for r in records]
    metrics = recorder.metrics(
        scenario={"name": scenario.name, "seed": scenario.seed, "map": Path(scenario.map).name,
                  "operating_model": str(scenario.operating_model)}, directions_ordered=scenario.demand.per_hour,
        duration_s=duration, fleet=fleet, total_m={v: link.odometer_m(v) for v in fleet},
        charging_s={v: link.charging_s(v) for v in fleet}, kwh_per_km=scenario.fleet.battery.consumption_kwh_per_km,
        customs_refused=customs.refused, customs_sent=customs.sent, orders_due=len(demand))
    wall = time.perf_counter() - started
    spent |= {"setup_s": loop_started - started, "loop_wall_s": time.perf_counter() - loop_started,
              "loop_cpu_s": time.process_time() - cpu}
    return FastRun(scenario, metrics, recorder, corridor, wall, ticks, link.events_handled, spent)


def _create(services: Services, recorder: Recorder, item: DemandOrder, scenario: Scenario, clock: SimClock) -> None:
    ready = EPOCH + item.ready_s
    order, _ = services.orders.create(OrderCreate(
        consignments=list(item.consignments), pickup=item.pickup, drop=item.drop, direction=item.direction,
        earliest_start=ready, latest_delivery=ready + scenario.demand.due_after_min * 60), "sim")
    recorder.add_order(order.id, item)
    recorder.orders[order.id].states.append((clock.t, "created", None))


def _plan_faults(scenario: Scenario, services: Services, link: EventLink, recorder: Recorder, agenda: Agenda,
                 corridor: Corridor, fleet: list[str]) -> None:
    faults = scenario.faults
    rng = random.Random(f"{scenario.seed}/faults")
    duration = scenario.duration_s
    for vehicle in fleet:
        for t in _poisson_times(rng, faults.breakdowns_per_vehicle_day, duration):
            repair = t + faults.repair_min.sample_s(rng)
            agenda.at(t, partial(link.break_down, vehicle, "drive fault (simulated)"))
            agenda.at(repair, partial(link.repair, vehicle))
        for t in _poisson_times(rng, faults.link_losses_per_vehicle_day, duration):
            back = t + faults.link_loss_s.sample_s(rng)
            agenda.at(t, partial(link.set_online, vehicle, False))
            agenda.at(back, partial(link.set_online, vehicle, True))
    dispatcher = services.dispatcher
    for hold in faults.operator_holds:
        gates = [hold.gate] if hold.gate else sorted(n.id for n in corridor.nodes_of(NodeKind.GATE,
                                                                                      jurisdiction=hold.side))
        start, end = hold.start_h * 3600, hold.start_h * 3600 + hold.duration_min * 60
        recorder.operator_holds.append((start, end, hold.side))
        for gate in gates:
            agenda.at(start, partial(dispatcher.hold_gate, gate, "sim-operator", "operator hold (scenario)"))
            agenda.at(end, partial(dispatcher.release_gate, gate, "sim-operator", "hold over (scenario)"))
