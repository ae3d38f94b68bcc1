"""Order assignment benchmark: online CP-SAT mode by problem size, the day planner (planner.dayplan) on a day
of orders.

Every figure is measured in this run on a corridor map (``--map``, default: the shipped default map) with
seeded synthetic orders (sim.orders), and
compared with a baseline measured in the same run on the same instances: greedy nearest-vehicle
assignment (orders by due time, each to the free vehicle that reaches its pickup first, one order a trip),
scored with the same objective. The ratio of objectives is ours / greedy (below 1 is better).

    .venv/bin/python tests/bench/bench_assignment.py [--map maps/kim_thanh] [--instances 20] [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import matplotlib
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fleet.maps import default_map_folder, load_corridor
from planner.assignment import EnergyModel, TravelTimes, Weights, assign_online
from planner.corridor import NodeKind
from planner.dayplan import Costs, corridor_problem, nearest_homes, plan_day, shipment_of
from sim.orders import random_fleet, random_orders

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OUT = Path("out/bench")
SIZES = ((10, 10), (20, 20), (40, 30), (60, 40))
ENERGY = EnergyModel(fraction_per_km=0.01)
WEIGHTS = Weights()


def greedy(travel: TravelTimes, orders, vehicles, energy: EnergyModel, weights: Weights, now_s: float,
           one_round: bool) -> tuple[float, int, float, float, float]:
    """Nearest-vehicle greedy: (cost, served, lateness s, empty s, driving s). ``one_round``: a vehicle
    takes at most one order (online); otherwise it takes the next after its drop (batch)."""
    free = {v.id: (max(now_s, v.free_at_s), v.node, v.battery) for v in vehicles if v.battery >= energy.low}
    profile = {v.id: v.profile for v in vehicles}
    cost = late_total = empty_total = driving = 0.0
    served = 0
    for order in sorted(orders, key=lambda o: o.due_s):
        options = []
        for vid, (t, node, battery) in free.items():
            reach = travel.from_node(node, profile[vid])
            ahead = travel.from_node(order.pickup, profile[vid])
            if order.pickup not in reach or order.drop not in ahead:
                continue
            after = travel.from_node(order.drop, profile[vid])
            home = min((after[c][1] for c in travel.chargers if c in after), default=float("inf"))
            used = energy.used(reach[order.pickup][1] + ahead[order.drop][1])
            if battery - used - energy.used(home) >= energy.reserve:
                options.append((t + reach[order.pickup][0], vid, used))
        if not options:
            cost += weights.unassigned_penalty * order.priority
            continue
        arrive, vid, used = min(options)
        t, node, battery = free.pop(vid)
        empty = travel.from_node(node, profile[vid])[order.pickup][0]
        loaded = travel.from_node(order.pickup, profile[vid])[order.drop][0]
        drop_s = max(arrive, order.ready_s) + loaded
        late = max(0.0, drop_s - order.due_s)
        cost += weights.empty_travel_per_s * empty + weights.lateness_per_s * order.priority * late
        served, late_total, empty_total, driving = served + 1, late_total + late, empty_total + empty, driving + (
            empty + loaded)
        if not one_round:
            free[vid] = (drop_s, order.drop, battery - used)
    return cost, served, late_total, empty_total, driving


def driving_s(travel: TravelTimes, vehicles, assignment) -> float:
    profile = {v.id: v.profile for v in vehicles}
    node = {v.id: v.node for v in vehicles}
    total = 0.0
    for trip in assignment.trips:
        for stop in trip.stops:
            total += travel.from_node(node[trip.vehicle_id], profile[trip.vehicle_id])[stop.node][0]
            node[trip.vehicle_id] = stop.node
    return total


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def online(graph, chargers, instances: int, sizes, progress: Progress) -> list[dict]:
    rows = []
    for n_orders, n_vehicles in sizes:
        task = progress.add_task(f"online {n_orders} x {n_vehicles}", total=instances)
        cold, warm, ratio, greedy_ms, optimal, gaps = [], [], [], [], 0, []
        for seed in range(instances):
            rng = random.Random(seed)
            orders, fleet = random_orders(graph, n_orders, rng), random_fleet(graph, n_vehicles, rng)
            travel = TravelTimes(graph)
            start = time.perf_counter()
            assign_online(graph, orders, fleet, chargers, ENERGY, WEIGHTS, travel=travel)
            cold.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            result = assign_online(graph, orders, fleet, chargers, ENERGY, WEIGHTS, travel=travel)
            warm.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            base = greedy(travel, orders, fleet, ENERGY, WEIGHTS, 0.0, one_round=True)[0]
            greedy_ms.append((time.perf_counter() - start) * 1000)
            ratio.append(result.cost / base)
            optimal += result.optimal
            if result.lower_bound > -float("inf"):
                gaps.append((result.cost - result.lower_bound) / result.cost)
            progress.advance(task)
        rows.append(dict(size=f"{n_orders} x {n_vehicles}", orders=n_orders, cold_p50=statistics.median(cold),
                         warm_p50=statistics.median(warm), warm_p95=percentile(warm, 95),
                         greedy_p50=statistics.median(greedy_ms), ratio=statistics.median(ratio),
                         optimal=optimal / instances, bounded=len(gaps) / instances,
                         gap=statistics.median(gaps) if gaps else float("nan")))
    return rows


def batch(graph, chargers, n_orders: int, n_vehicles: int, limit_s: float) -> dict:
    """A day of orders planned by the day planner, each vehicle back at its nearest charger, against the
    greedy baseline (which leaves vehicles where their last drop is)."""
    rng = random.Random(1)
    orders = random_orders(graph, n_orders, rng, spread_s=10 * 3600)
    fleet = random_fleet(graph, n_vehicles, rng, battery=(0.6, 1.0))
    energy = EnergyModel(fraction_per_km=0.004)
    travel = TravelTimes(graph)
    start = time.perf_counter()
    homes = nearest_homes(graph, fleet, travel=travel)
    fleet = [v for v in fleet if v.id in homes]
    costs = Costs(per_metre=0.02, late_per_s=WEIGHTS.lateness_per_s, unserved=WEIGHTS.unassigned_penalty)
    problem = corridor_problem(graph, [shipment_of(o) for o in orders], fleet, homes, energy, costs, travel=travel)
    plan = plan_day(problem, time_limit_s=limit_s)
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    _, g_served, g_late, _, g_drive = greedy(travel, orders, fleet, energy, WEIGHTS, 0.0, one_round=False)
    g_ms = (time.perf_counter() - start) * 1000
    return dict(orders=n_orders, vehicles=len(fleet), limit=limit_s, time=elapsed, backend=plan.backend.value,
                served=n_orders - len(plan.unserved), used=plan.vehicles_used, late=plan.late_s,
                driving=sum(r.driving_s for r in plan.routes), breaks=len(plan.breaks), g_served=g_served,
                g_late=g_late, g_drive=g_drive, g_ms=g_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--map", type=Path, default=None, help="corridor folder (default: the shipped default map)")
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a small run that only proves the benchmark works")
    args = parser.parse_args()
    sizes, day = SIZES, (300, 20, 10.0)
    if args.quick:
        args.instances, sizes, day = 2, SIZES[:2], (40, 6, 1.0)
    console = Console()
    OUT.mkdir(parents=True, exist_ok=True)
    corridor = load_corridor(args.map or default_map_folder())
    graph = corridor.graph
    chargers = sorted(n for n, k in graph.nodes(data="kind") if k == NodeKind.CHARGER)
    with Progress(console=console, transient=True) as progress:
        rows = online(graph, chargers, args.instances, sizes, progress)
        task = progress.add_task(f"day plan: {day[0]} orders x {day[1]} vehicles", total=None)
        day_row = batch(graph, chargers, *day)
        progress.update(task, completed=1)
    report(rows, day_row, args, console, corridor.name)


def report(rows: list[dict], day: dict, args, console: Console, corridor: str) -> None:
    table = Table(title=f"online assignment, {args.instances} random instances per size ({corridor})")
    head = ("orders x vehicles", "first call p50 (ms)", "warm p50 (ms)", "warm p95 (ms)", "proved optimal",
            "bound proved", "median gap", "objective / greedy", "greedy p50 (ms)")
    for column in head:
        table.add_column(column)
    lines = [f"# {table.title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = (r["size"], f"{r['cold_p50']:.0f}", f"{r['warm_p50']:.0f}", f"{r['warm_p95']:.0f}",
                 f"{r['optimal']:.0%}", f"{r['bounded']:.0%}", f"{r['gap']:.2%}", f"{r['ratio']:.3f}",
                 f"{r['greedy_p50']:.1f}")
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    day_head = ("", "time", "served", "total lateness (s)", "driving (s)", "hard rules broken")
    day_rows = [(f"day planner ({day['backend']}), {day['used']} vehicles used",
                 f"{day['time']:.1f} s (limit {day['limit']:.0f} s)", f"{day['served']} / {day['orders']}",
                 f"{day['late']:.0f}", f"{day['driving']:.0f} (back to a charger included)", str(day["breaks"])),
                ("greedy nearest vehicle", f"{day['g_ms']:.0f} ms", f"{day['g_served']} / {day['orders']}",
                 f"{day['g_late']:.0f}", f"{day['g_drive']:.0f} (ends at its last drop)", "-")]
    day_table = Table(title=f"a day of {day['orders']} orders, {day['vehicles']} vehicles")
    for column in day_head:
        day_table.add_column(column)
    lines += ["", f"# {day_table.title}", "", "| " + " | ".join(day_head) + " |", "|" + "---|" * len(day_head)]
    for cells in day_rows:
        day_table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    ratio = day["late"] / day["g_late"] if day["g_late"] else float("nan")
    lines += ["", f"lateness day planner / greedy: {ratio:.3f}; driving: {day['driving'] / day['g_drive']:.3f}"]
    console.print(day_table)
    (OUT / "assignment.md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    x = [f"{r['size']}" for r in rows]
    ax.plot(x, [r["warm_p50"] for r in rows], "o-", label="online p50 (warm travel times)")
    ax.plot(x, [r["warm_p95"] for r in rows], "s--", label="online p95")
    ax.plot(x, [r["cold_p50"] for r in rows], "^:", label="first call p50 (builds travel times)")
    ax.plot(x, [r["greedy_p50"] for r in rows], "x-", label="greedy baseline p50")
    ax.axhline(200, color="grey", linewidth=0.8, label="200 ms target")
    ax.set_xlabel("orders x vehicles")
    ax.set_ylabel("ms")
    ax.set_title("online assignment solve time")
    ax.legend()
    fig.savefig(OUT / "assignment.png", dpi=110)
    console.print(f"wrote {OUT / 'assignment.md'} and {OUT / 'assignment.png'}")


if __name__ == "__main__":
    main()
