"""Li & Lim's pickup-and-delivery instances (../shared/data/li_lim_100): reading them, posing them to the
day planner, and an independent check of the routes it returns.

The check is written from the instance file's rules, not from the planner: it reads the task ids each
route visits and recomputes everything in double precision from the coordinates (every task served once,
pickup before its delivery on the same route, load within capacity, service started within each task's
window, back at the depot before it closes, the total distance).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.dayplan import Costs, DayPlan, DayProblem, Shipment, TravelMatrix, Vehicle, Window

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "li_lim_100"
EPS = 1e-6
#: the cost of one more vehicle, in distance units: more than any instance's whole distance, so fewer
#: vehicles always come first, then distance (how Li & Lim's best-known results are ranked)
VEHICLE_COST = 10_000.0


@dataclass(frozen=True)
class Task:
    id: int
    x: float
    y: float
    demand: int
    earliest: float
    latest: float
    service: float
    pickup_of: int  # for a delivery: its pickup's id (0 otherwise)
    delivery_of: int  # for a pickup: its delivery's id (0 otherwise)


@dataclass(frozen=True)
class Instance:
    name: str
    vehicles: int
    capacity: int
    tasks: tuple[Task, ...]  # tasks[0] is the depot

    def distance(self, a: int, b: int) -> float:
        return math.hypot(self.tasks[a].x - self.tasks[b].x, self.tasks[a].y - self.tasks[b].y)


@dataclass(frozen=True)
class BestKnown:
    vehicles: int
    distance: float


def read_instance(path: Path) -> Instance:
    """Read an instance file; one cut short or mangled is a ValueError naming the line or the task."""
    lines = [(n, line.split()) for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"{path}: no header line (vehicles, capacity, speed)")
    for n, fields in lines:
        want = 3 if n == lines[0][0] else 9  # the header: vehicles, capacity, speed; then a task a line
        if len(fields) != want:
            raise ValueError(f"{path}: line {n} has {len(fields)} fields, not {want}")
    vehicles, capacity, _speed = (int(v) for v in lines[0][1])
    tasks = tuple(Task(int(r[0]), float(r[1]), float(r[2]), int(r[3]), float(r[4]), float(r[5]), float(r[6]),
                       int(r[7]), int(r[8])) for _, r in lines[1:])
    if any(t.id != i for i, t in enumerate(tasks)):
        raise ValueError(f"{path}: task ids are not 0..{len(tasks) - 1} in order")
    for t in tasks:
        for other in (t.pickup_of, t.delivery_of):
            if other >= len(tasks):
                raise ValueError(f"{path}: task {t.id} names task {other}, which the file does not hold")
    return Instance(path.stem, vehicles, capacity, tasks)


def instances() -> list[Path]:
    return sorted(DATA.glob("l*.txt"))


def best_known() -> dict[str, BestKnown]:
    with (DATA / "best_known.csv").open() as f:
        return {r["instance"]: BestKnown(int(r["vehicles"]), float(r["distance"])) for r in csv.DictReader(f)}


def day_problem(instance: Instance) -> DayProblem:
    """The instance for the day planner: a shipment per pickup-delivery pair, every vehicle from the depot
    and back within its opening, travel time = distance (one profile)."""
    xy = np.array([(t.x, t.y) for t in instance.tasks])
    metres = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))[None]
    travel = TravelMatrix(tuple(str(t.id) for t in instance.tasks), metres, metres, coordinates=xy)
    depot = instance.tasks[0]
    shipments = tuple(
        Shipment(f"{p.id}-{p.delivery_of}", str(p.id), str(p.delivery_of), p.demand,
                 Window(p.earliest, p.latest), Window(instance.tasks[p.delivery_of].earliest,
                                                      instance.tasks[p.delivery_of].latest),
                 p.service, instance.tasks[p.delivery_of].service)
        for p in instance.tasks[1:] if p.demand > 0)
    vehicles = tuple(Vehicle(f"v{i:02d}", "0", "0", instance.capacity, available_s=depot.earliest,
                             return_by_s=depot.latest) for i in range(instance.vehicles))
    return DayProblem(travel, shipments, vehicles, Costs(per_vehicle=VEHICLE_COST, per_metre=1.0))


def task_routes(plan: DayPlan) -> list[list[int]]:
    """Each route as the task ids it visits (a shipment ``p-d`` is picked up at task p, delivered at d)."""
    return [[int(v.shipment_id.split("-")[0 if v.action == "pickup" else 1]) for v in r.visits] for r in plan.routes]


@dataclass(frozen=True)
class Checked:
    vehicles: int
    distance: float
    violations: tuple[str, ...]


def check(instance: Instance, routes: list[list[int]]) -> Checked:
    """Every rule of the instance a set of routes (task ids, depot left out) breaks, and their distance."""
    problems: list[str] = []
    tasks = instance.tasks
    seen: dict[int, int] = {}
    total = 0.0
    for r, route in enumerate(routes):
        if not route:
            problems.append(f"route {r} is empty")
            continue
        if len(routes) > instance.vehicles:
            problems.append(f"{len(routes)} routes, only {instance.vehicles} vehicles")
        t, load, here, picked = tasks[0].earliest, 0, 0, set()
        for task_id in route:
            if not 0 < task_id < len(tasks):
                problems.append(f"route {r}: unknown task {task_id}")
                continue
            task = tasks[task_id]
            seen[task_id] = seen.get(task_id, 0) + 1
            total += instance.distance(here, task_id)
            t = max(t + instance.distance(here, task_id), task.earliest)
            if t > task.latest + EPS:
                problems.append(f"route {r}: task {task_id} served at {t:.3f}, after its latest {task.latest:g}")
            if task.demand > 0:
                picked.add(task_id)
            elif task.pickup_of not in picked:
                problems.append(f"route {r}: task {task_id} delivered before (or without) its pickup "
                                f"{task.pickup_of} on this route")
            load += task.demand
            if load > instance.capacity:
                problems.append(f"route {r}: load {load} after task {task_id}, over capacity {instance.capacity}")
            t += task.service
            here = task_id
        total += instance.distance(here, 0)
        back = t + instance.distance(here, 0)
        if back > tasks[0].latest + EPS:
            problems.append(f"route {r}: back at the depot at {back:.3f}, after it closes at {tasks[0].latest:g}")
        if load != 0:
            problems.append(f"route {r}: ends with load {load}")
    for task in tasks[1:]:
        if seen.get(task.id, 0) != 1:
            problems.append(f"task {task.id} served {seen.get(task.id, 0)} times")
    return Checked(sum(1 for r in routes if r), total, tuple(problems))
