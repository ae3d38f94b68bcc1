"""``xborder plan``: plan a busy moment of the fleet on a corridor, check it, run it with delays, plot it.

For engineers trying the planner on a map: a random but well-formed moment (sim/planning_scenarios.py),
planned by the fleet planner (on a relay corridor, with relay trips that meet at the handoff pad),
checked by the independent checker, its precedence graph checked for cycles, executed with random delays
(sim/plan_execution.py), and drawn as a time-distance diagram along the corridor's main route each way,
where headways and waits show.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import typer

from fleet.cli.map import picture_path

app = typer.Typer(help="The planner on a corridor: plan, check and draw a busy moment.", no_args_is_help=True)


@app.command()
def scenario(
    path: Path = typer.Argument(..., help="corridor folder holding corridor.geojson and corridor.yaml"),
    count: int = typer.Option(60, "--count", min=1, help="AGVs"),
    seed: int = typer.Option(1, "--seed"),
    out: Path = typer.Option(Path("out/plans.png"), "--out", help="time-distance diagram to write (.png/.svg)",
                             callback=picture_path),
) -> None:
    """Plan COUNT AGVs at a random busy moment, check the plans, execute them with delays, draw them."""
    import networkx as nx
    from rich.console import Console

    from fleet.cli.map import load_or_exit
    from planner.schedule import FleetPlanner, FollowingRules
    from planner.schedule.check import plan_violations
    from planner.schedule.precedence import precedence_graph
    from sim.plan_execution import execute_with_delays
    from sim.planning_scenarios import random_requests

    console = Console()
    corridor = load_or_exit(path)
    relay = corridor.parameters.get("handoff_mode") == "relay"
    try:
        requests = random_requests(corridor, count, seed=seed, relay=relay)
    except ValueError as exc:
        console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(code=2) from None
    planner = FleetPlanner(corridor.graph, FollowingRules.from_parameters(corridor.parameters))
    start = time.perf_counter()
    result = plan_moment(corridor, planner, requests, seed)
    took = time.perf_counter() - start
    plans = result.plans
    violations = plan_violations(corridor.graph, plans, planner.timed.rules, {r.vehicle_id: r.profile
                                                                            for r in requests})
    acyclic = nx.is_directed_acyclic_graph(precedence_graph(planner.timed, plans))
    run = execute_with_delays(planner.timed, plans, seed=seed)
    moving = [p for p in plans.values() if len(p.steps) > 1]
    console.print(f"planned {len(plans)} AGVs ({len(moving)} moving) on {corridor.name} in {took * 1000:.0f} ms")
    if relay:
        meetings = sum(1 for p in plans.values() if p.meets and any(s.action == "custody" for s in p.steps)) // 2
        console.print(f"  relay: {meetings} container transfers at the handoff pad (custody recorded)")
    console.print(f"  all arrived by {max(p.finish_time for p in plans.values()) / 60:.1f} min as planned; "
                  f"mean trip {sum(p.finish_time - p.steps[0].arrive for p in moving) / max(1, len(moving)) / 60:.1f}"
                  " min")
    console.print(f"  stalled: {len(result.stalled)}   rule violations (independent check): {len(violations)}   "
                  f"precedence acyclic (no deadlock): {acyclic}")
    console.print(f"  executed with random delays: {len(run.finished)} finished, {len(run.stuck)} stuck, "
                  f"last at {max(run.finished.values(), default=0) / 60:.1f} min")
    for vid, why in itertools.islice(result.stalled.items(), 5):
        console.print(f"  [yellow]{vid}[/]: {why}")
    for problem in violations[:5]:
        console.print(f"  [red]{problem}[/]")
    written = draw_time_distance(corridor, plans, out)
    console.print(f"wrote {written}")
    if violations or not acyclic or run.stuck:
        raise typer.Exit(code=1)


def plan_moment(corridor, planner, requests, seed: int):
    """Plan a moment: on a through corridor every request as it is; on a relay corridor, pairs of
    vehicles from both sides first stay where they are while the others are planned, then each pair is
    planned to meet at the handoff pad (``plan_relay``). A pair that cannot meet stays and is reported
    stalled."""
    from planner.corridor import NodeKind
    from planner.exceptions import NoPlan
    from planner.schedule.handoff import plan_relay
    from sim.planning_scenarios import relay_trips

    if corridor.parameters.get("handoff_mode") != "relay":
        return planner.plan_all(requests)
    others, trips = relay_trips(corridor, requests, seed)
    result = planner.plan_all(others)
    pad = corridor.nodes_of(NodeKind.HANDOFF)[0].id
    transfer = float(corridor.parameters["handoff_transfer_s"])
    for trip in trips:
        staying = {r.vehicle_id: planner.plans[r.vehicle_id] for r in (trip.deliverer, trip.receiver)}
        try:
            plan_relay(planner, trip.deliverer, trip.receiver, pad, transfer)
        except NoPlan as exc:
            for plan in staying.values():
                planner.table.reserve(plan)
            result.stalled[trip.deliverer.vehicle_id] = str(exc)
    result.plans = dict(planner.plans)
    return result


def draw_time_distance(corridor, plans, out: Path) -> Path:
    """Each way, the fastest terminal-to-terminal route as a distance axis; every vehicle's stretch of
    plan along it as a line in time: slopes are speeds, flat parts are waits, gaps are headways."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fleet.maps.fonts import use_map_fonts
    from planner.corridor.summary import fastest_dock_route

    use_map_fonts()  # the map's name, in its own scripts (Kim Thanh's holds Chinese)
    fig, axes = plt.subplots(1, 2, figsize=(15, 6), sharey=False)
    for ax, (a, b) in zip(axes, (corridor.jurisdictions, corridor.jurisdictions[::-1]), strict=True):
        route = fastest_dock_route(corridor, a, b).nodes
        distance = dict(zip(route, itertools.accumulate(
            [0.0] + [corridor.graph.edges[u, v]["length"] for u, v in itertools.pairwise(route)]), strict=True))
        for number, (vehicle, plan) in enumerate(sorted(plans.items())):
            for here, nxt in itertools.pairwise(plan.steps):
                if here.node in distance and nxt.node in distance and distance[nxt.node] > distance[here.node]:
                    ax.plot([here.arrive / 60, here.depart / 60, nxt.arrive / 60],
                            [distance[here.node] / 1000, distance[here.node] / 1000, distance[nxt.node] / 1000],
                            lw=0.8, color=f"C{number % 10}", gid=vehicle)  # one colour a vehicle, all along
        for node in route:
            kind = corridor.graph.nodes[node]["kind"]
            if kind in ("gate", "border"):
                ax.axhline(distance[node] / 1000, color="grey", lw=0.6, ls=":")
                ax.text(0, distance[node] / 1000, f" {node}", fontsize=7, va="bottom", color="grey")
        ax.set(xlabel="minutes", ylabel=f"km along {route[0]} -> {route[-1]}", title=f"{a} -> {b}")
    fig.suptitle(f"{corridor.name}: {len(plans)} AGVs, conflict-free timed plans")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
