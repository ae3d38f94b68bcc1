"""Planner benchmark on every shipped corridor map (or those given by ``--map``): full replan,
incremental replan, corridor throughput, one section per corridor.

- Full replan of 25, 50, 100 and 200 AGVs (random busy moments: a third on the roads, the rest parked,
  each with somewhere to go), SIPP against the baseline (sequential space-time A* without safe intervals,
  1 s waits) in the same run, reported as a ratio. The baseline gets a time budget per fleet size.
- Incremental replan of one vehicle delayed by 30 s in the 200-AGV fleet, for a sample of vehicles: the
  whole ``FleetPlanner.replan`` call, and the single-vehicle search by each method on the same table.
- Relay (on a relay corridor): pairs of vehicles, one from each side, planned one pair after another to
  meet at the handoff pad; transfers an hour against the one-pad bound.
- Throughput: a queue of AGVs from the first side's yard to the second side's, on through trips with
  clearance instant; the rate at which the plans put them on the lanes onto the border line, against the
  lane-capacity formula q = 3600·v/(L + s0 + v·h) at the corridor's bottleneck (planner.schedule.capacity)
  and at the bridge's speed.
Fleet sizes a corridor has no room for (more vehicles than places) are left out for it.
- MovingAI grid random-32-32-10 (../shared/data/movingai) with its scenario's first 100 and 200 agents:
  planning time, stalled agents, the independent checker's verdict, and the sum of costs against the sum
  of the agents' shortest paths (a lower bound no plan beats), both computed in this run.

    .venv/bin/python tests/bench/bench_planner.py [--map maps/kim_thanh ...] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import signal
import statistics
import time
from dataclasses import replace
from pathlib import Path

import matplotlib
import movingai
from rich.console import Console
from rich.progress import Progress

from fleet.maps import load_corridor, shipped_maps
from planner.corridor import Corridor, NodeKind
from planner.exceptions import NoPlan
from planner.routing import VehicleProfile
from planner.schedule import FleetPlanner, FollowingRules, PlanRequest
from planner.schedule.capacity import crossing_bottleneck
from planner.schedule.check import plan_violations
from planner.schedule.handoff import plan_relay
from planner.schedule.sipp import plan_path
from planner.schedule.space_time_astar import plan_path_space_time
from sim.planning_scenarios import random_requests

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OUT = Path("out/bench")
BASELINE_EXPANSIONS = 200_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small run that only proves the benchmark works")
    parser.add_argument("--baseline-budget", type=float, default=120.0, help="seconds per fleet size")
    parser.add_argument("--map", type=Path, action="append", help="corridor folder (repeat for several; default: "
                                                                  "every map shipped in maps/)")
    parser.add_argument("--grid-only", action="store_true", help="only the MovingAI grid section")
    args = parser.parse_args()
    sizes = [10, 25] if args.quick else [25, 50, 100, 200]
    repeats, samples, queue = (1, 10, 30) if args.quick else (3, 60, 90)
    budget = 20.0 if args.quick else args.baseline_budget
    console = Console()
    OUT.mkdir(parents=True, exist_ok=True)
    sections = []
    for folder in [] if args.grid_only else args.map or shipped_maps():
        corridor = load_corridor(folder)
        fits = [n for n in sizes if _fits(corridor, n)]
        with Progress(console=console) as progress:
            full = full_replans(corridor, fits, repeats, budget, progress)
            progress.console.print(f"full replans: {full}")
            incremental = incremental_replans(corridor, fits[-1], samples, progress)
            medians = {k: statistics.median(v) for k, v in incremental.items() if isinstance(v, list)}
            progress.console.print(f"incremental replans, median s: {medians}")
            throughput = bridge_throughput(corridor, queue, progress)
            relay = relay_throughput(corridor, queue // 3, progress)
        section = report(corridor, folder.name, full, incremental, throughput, fits, sizes, console)
        if relay:
            section += relay_report(relay)
            console.print(relay_report(relay))
        sections.append(section)
    with Progress(console=console) as progress:
        grid = grid_agents([50] if args.quick else [100, 200], progress)
    sections.append(grid_report(grid))
    console.print(sections[-1])
    (OUT / "planner.md").write_text("\n\n".join(sections))
    console.print(f"wrote {OUT / 'planner.md'}")


def _fits(corridor: Corridor, n: int) -> bool:
    """Whether a busy moment of ``n`` vehicles fits on the corridor (a place for every one)."""
    try:
        random_requests(corridor, n, seed=n)
    except ValueError:
        return False
    return True


def full_replans(corridor, sizes, repeats, budget, progress) -> dict:
    task = progress.add_task("full replans", total=len(sizes) * 2)
    results = {}
    baseline_alive = True
    for n in sizes:
        requests = random_requests(corridor, n, seed=n)
        sipp = FleetPlanner(corridor.graph, FollowingRules.from_parameters(corridor.parameters))
        sipp.plan_all(requests)  # warm the per-map cost-to-go tables, as a running fleet manager has them
        times, stalled = [], 0
        for _ in range(repeats):
            start = time.perf_counter()
            result = sipp.plan_all(requests)
            times.append(time.perf_counter() - start)
            stalled = len(result.stalled)
        row = {"sipp_s": statistics.median(times), "sipp_stalled": stalled,
               "sipp_mean_finish": statistics.mean(p.finish_time for p in result.plans.values())}
        progress.advance(task)
        if baseline_alive:
            baseline = FleetPlanner(corridor.graph, FollowingRules.from_parameters(corridor.parameters),
                                    method="space_time_astar")
            start = time.perf_counter()
            try:
                with _time_limit(budget):
                    result = baseline.plan_all(requests, rounds=1)
                row["baseline_s"] = time.perf_counter() - start
                row["baseline_stalled"] = len(result.stalled)
            except TimeoutError:
                row["baseline_over_s"] = budget
                baseline_alive = False
        progress.advance(task)
        results[n] = row
    return results


def incremental_replans(corridor, n, samples, progress) -> dict:
    """For a sample of vehicles, halfway along their plans, on a fresh copy of the fleet's plans each time:
    (a) ``FleetPlanner.replan`` from there, on time (its clearance came, or it got a new goal); (b) the bare
    single-vehicle search from there by SIPP and by the baseline, on the same table; (c) the vehicle is
    found 30 s late there: ``replan`` searches again for it and those planned through its node meanwhile;
    (d) the same delay absorbed by ``delay``, which shifts the times of every plan it reaches."""
    requests = random_requests(corridor, n, seed=n)
    planner = FleetPlanner(corridor.graph, FollowingRules.from_parameters(corridor.parameters))
    planner.plan_all(requests)
    rng = random.Random(1)
    movers = [vid for vid, p in planner.plans.items() if len(p.steps) > 4]
    task = progress.add_task(f"incremental replans in a fleet of {n}", total=min(samples, len(movers)))
    timings: dict[str, list[float]] = {"replan": [], "sipp": [], "baseline": [], "late": [], "delay": []}
    found = {"sipp": 0, "baseline": 0}
    stalled = shifted = 0
    for vid in rng.sample(movers, min(samples, len(movers))):
        planner.plan_all(requests)  # the same fleet plans again for every sample (not timed)
        plan, request = planner.plans[vid], planner.requests[vid]
        step = plan.steps[len(plan.steps) // 2]
        table = planner.table
        table.release(vid)
        for name, search in (("sipp", plan_path), ("baseline", _bounded_baseline)):
            start = time.perf_counter()
            try:
                search(table, vid, step.node, step.arrive, request.goals, request.profile)
                found[name] += 1
            except NoPlan:
                pass  # a failed search took its time too
            timings[name].append(time.perf_counter() - start)
        table.reserve(plan)
        on_time = PlanRequest(vid, step.node, request.goals, start_time=step.arrive, profile=request.profile)
        start = time.perf_counter()
        planner.replan(on_time)
        timings["replan"].append(time.perf_counter() - start)
        planner.plan_all(requests)
        start = time.perf_counter()
        late = planner.replan(replace(on_time, start_time=step.arrive + 30.0), now=step.arrive)
        timings["late"].append(time.perf_counter() - start)
        stalled += len(late.stalled)
        planner.plan_all(requests)
        start = time.perf_counter()
        shifted += len(planner.delay(vid, len(plan.steps) // 2, step.arrive + 30.0).plans)
        timings["delay"].append(time.perf_counter() - start)
        progress.advance(task)
    return timings | {"found": found, "stalled": stalled, "shifted": shifted}


def _bounded_baseline(*args):
    """The baseline, stopped after 200,000 states (when no plan exists it would search its whole space)."""
    return plan_path_space_time(*args, max_expansions=BASELINE_EXPANSIONS)


@contextlib.contextmanager
def _time_limit(seconds: float):
    def expire(*_):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def bridge_throughput(corridor, count, progress) -> dict:
    """Up to ``count`` AGVs parked in the first side's yard, all bound for the other side's terminals on
    through trips, clearance instant; counted on the lanes from the first side onto the border line."""
    graph = corridor.graph
    rng = random.Random(11)
    nodes = graph.nodes
    a, b = corridor.jurisdictions
    onto_line = {(lane.source, lane.target) for lane in corridor.crossing_lanes
                 if nodes[lane.target]["kind"] == NodeKind.BORDER and nodes[lane.source]["jurisdiction"] == a
                 and nodes[lane.source]["kind"] != NodeKind.BORDER}
    home = sorted(n for n in graph if nodes[n]["kind"] == NodeKind.PARKING and nodes[n]["jurisdiction"] == a)
    away = sorted(n for n in graph if nodes[n]["kind"] in (NodeKind.PARKING, NodeKind.DOCK)
                  and nodes[n]["jurisdiction"] == b)
    count = min(count, len(home), len(away))
    starts, goals = rng.sample(home, count), rng.sample(away, count)
    planner = FleetPlanner(graph, FollowingRules.from_parameters(corridor.parameters))
    task = progress.add_task(f"throughput: {count} AGVs {a} -> {b}", total=1)
    result = planner.plan_all([PlanRequest(f"q{i:03d}", s, (g,)) for i, (s, g) in enumerate(zip(starts, goals,
                                                                                                  strict=True))])
    progress.advance(task)
    entries = sorted(step.depart for plan in result.plans.values()
                     for step, nxt in itertools.pairwise(plan.steps) if (step.node, nxt.node) in onto_line)
    trim = len(entries) // 10  # steady state: leave out the first and last tenth
    steady = entries[trim:len(entries) - trim]
    achieved = 3600.0 * (len(steady) - 1) / (steady[-1] - steady[0])
    bottleneck = crossing_bottleneck(planner.timed, a, b)
    bridge_speed = min(graph.edges[lane]["max_speed"] for lane in onto_line)
    return {"entries": entries, "stalled": len(result.stalled), "achieved": achieved, "bottleneck": bottleneck,
            "q_bridge": planner.timed.rules.capacity_per_hour(bridge_speed), "bridge_speed": bridge_speed,
            "rules": planner.timed.rules, "direction": f"{a} -> {b}"}


def relay_throughput(corridor, pairs, progress) -> dict | None:
    """On a relay corridor: up to ``pairs`` pairs, one vehicle parked on each side, each pair meeting at the
    handoff pad for a transfer (``plan_relay``) and going back to its place; planned one pair after the
    other, as a dispatcher would. How many transfers an hour the plans fit through the one pad."""
    if corridor.parameters["handoff_mode"] != "relay":
        return None
    graph, nodes = corridor.graph, corridor.graph.nodes
    a, b = corridor.jurisdictions
    pad = corridor.nodes_of(NodeKind.HANDOFF)[0].id
    transfer = float(corridor.parameters["handoff_transfer_s"])
    parked = {side: sorted(n for n in graph if nodes[n]["kind"] == NodeKind.PARKING
                           and nodes[n]["jurisdiction"] == side) for side in (a, b)}
    rng = random.Random(12)
    count = min(pairs, len(parked[a]), len(parked[b]))
    starts = {side: rng.sample(parked[side], count) for side in (a, b)}
    requests = [PlanRequest(f"{side.lower()}{i:03d}", node, (node,),
                            profile=VehicleProfile(cross_border=False, home=side))
                for side in (a, b) for i, node in enumerate(starts[side])]
    planner = FleetPlanner(graph, FollowingRules.from_parameters(corridor.parameters))
    planner.plan_all(requests)
    task = progress.add_task(f"relay: {count} transfers at {pad}", total=count)
    meetings, failed = [], 0
    start = time.perf_counter()
    for deliverer, receiver in zip(requests[:count], requests[count:], strict=True):
        try:
            meetings.append(plan_relay(planner, deliverer, receiver, pad, transfer).meet_at)
        except NoPlan:
            failed += 1
        progress.advance(task)
    took = time.perf_counter() - start
    meetings.sort()
    trim = len(meetings) // 10
    steady = meetings[trim:len(meetings) - trim]
    achieved = 3600.0 * (len(steady) - 1) / (steady[-1] - steady[0])
    # the pad serves one pair at a time: the transfer, then the clearance of the slower lane off it
    leaving = max(planner.timed.lanes[(pad, v)].clearance_s for v in graph.successors(pad))
    return {"pairs": count, "failed": failed, "achieved": achieved, "bound": 3600.0 / (transfer + leaving),
            "transfer": transfer, "leaving": leaving, "per_pair_ms": took / max(1, count) * 1000, "pad": pad}


def grid_agents(counts: list[int], progress) -> list[dict]:
    """The MovingAI grid with the scenario's first ``n`` agents, for each ``n`` in ``counts``."""
    graph = movingai.read_grid(movingai.DATA / "random-32-32-10.map")
    task = progress.add_task("MovingAI random-32-32-10", total=len(counts))
    rows = []
    for n in counts:
        agents = movingai.read_scenario(movingai.DATA / "random-32-32-10-random-1.scen", n)
        planner = FleetPlanner(graph, movingai.RULES)
        start, cpu = time.perf_counter(), time.process_time()
        result = planner.plan_all([PlanRequest(f"a{i:03d}", a.start, (a.goal,)) for i, a in enumerate(agents)])
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows.append(dict(agents=n, seconds=took, cpu=cpu, stalled=len(result.stalled),
                         cost=sum(p.finish_time for p in result.plans.values()),
                         bound=movingai.lower_bound(graph, agents),
                         violations=len(plan_violations(graph, result.plans, movingai.RULES))))
        progress.advance(task)
    return rows


def grid_report(rows: list[dict]) -> str:
    rules = movingai.RULES
    return "\n".join([
        "# MovingAI grid random-32-32-10, scenario random-1 (4-connected, 1 m cells at 1 m/s)", "",
        f"Rules: AGV {rules.vehicle_length_m:g} m, gap {rules.standstill_gap_m:g} m, headway {rules.headway_s:g} s "
        "(a cell is free just after its agent leaves). The lower bound is the sum of the agents' shortest paths, "
        "computed in this run.", "",
        *_markdown([("agents", "full plan (wall)", "CPU", "stalled", "checker violations", "sum of costs",
                     "lower bound", "cost / bound")] + [
            (str(r["agents"]), f"{r['seconds']:.2f} s", f"{r['cpu']:.2f} s", str(r["stalled"]), str(r["violations"]),
             f"{r['cost']:.0f}",
             str(r["bound"]), f"{r['cost'] / r['bound']:.3f}") for r in rows]), ""])


def relay_report(r: dict) -> str:
    return "\n".join([
        "", "", f"## Relay transfers at the handoff pad ({r['pairs']} pairs, planned one after another, "
                f"{r['failed']} not agreed)", "",
        *_markdown([("", "transfers per hour", "plans / bound"),
                    ("achieved by the plans (steady state)", f"{r['achieved']:.1f}", ""),
                    (f"one pad: 3600 / (transfer {r['transfer']:.0f} s + clearance off the pad "
                     f"{r['leaving']:.1f} s)", f"{r['bound']:.1f}", f"{r['achieved'] / r['bound']:.0%}")]), "",
        f"``plan_relay`` took {r['per_pair_ms']:.1f} ms per pair.", ""])


def report(corridor, name, full, incremental, throughput, sizes, asked, console) -> str:
    """The corridor's section of planner.md (also printed), and its plot planner-<name>.png."""
    rows = [("AGVs", "SIPP full replan", "baseline full replan", "baseline / SIPP", "stalled SIPP / baseline")]
    for n in sizes:
        r = full[n]
        if "baseline_s" in r:
            base, ratio = f"{r['baseline_s']:.2f} s", f"{r['baseline_s'] / r['sipp_s']:.1f}x"
        elif "baseline_over_s" in r:
            base, ratio = f"> {r['baseline_over_s']:.0f} s (stopped)", f"> {r['baseline_over_s'] / r['sipp_s']:.0f}x"
        else:
            base, ratio = "not run (over budget at a smaller size)", "-"
        rows.append((str(n), f"{r['sipp_s'] * 1000:.0f} ms", base, ratio,
                     f"{r['sipp_stalled']} / {r.get('baseline_stalled', '-')}"))
    timings = {k: incremental[k] for k in ("replan", "sipp", "baseline", "late", "delay")}
    med = {k: statistics.median(v) for k, v in timings.items()}
    p95 = {k: statistics.quantiles(v, n=20)[-1] if len(v) > 1 else v[0] for k, v in timings.items()}
    found = incremental["found"]
    t = throughput
    b = t["bottleneck"]
    rules = t["rules"]
    lines = [
        "## Full replan (median of repeats; SIPP with warm per-map tables; baseline one run)", "",
        *_markdown(rows), "",
        f"## Incremental replan of one vehicle in a fleet of {sizes[-1]} "
        f"({len(incremental['replan'])} samples)", "",
        *_markdown([("", "median", "p95"),
                    ("FleetPlanner.replan from there, on time (release + search + reserve)",
                     f"{med['replan'] * 1000:.2f} ms", f"{p95['replan'] * 1000:.2f} ms"),
                    ("SIPP search alone, from there on time", f"{med['sipp'] * 1000:.2f} ms",
                     f"{p95['sipp'] * 1000:.2f} ms"),
                    ("space-time A* search alone, same (baseline)", f"{med['baseline'] * 1000:.2f} ms",
                     f"{p95['baseline'] * 1000:.2f} ms"),
                    ("baseline / SIPP search (median)", f"{med['baseline'] / med['sipp']:.1f}x", ""),
                    ("FleetPlanner.replan of the vehicle found 30 s late there",
                     f"{med['late'] * 1000:.2f} ms", f"{p95['late'] * 1000:.2f} ms"),
                    ("FleetPlanner.delay: the same 30 s absorbed by shifting times",
                     f"{med['delay'] * 1000:.2f} ms", f"{p95['delay'] * 1000:.2f} ms")]), "",
        f"Searches that found a plan: SIPP {found['sipp']}, baseline {found['baseline']} of "
        f"{len(incremental['replan'])} (the baseline stops after {BASELINE_EXPANSIONS:,} states). Vehicles "
        f"reported stalled by the {len(incremental['late'])} late-vehicle replans, together: "
        f"{incremental['stalled']} (a follower right behind the late vehicle gets no new slot and stops at its "
        f"last released node); by ``delay``: none, it cannot stall anyone, and it changed "
        f"{incremental['shifted'] / len(incremental['delay']):.1f} plans per delay on average.", "",
        f"## Throughput onto the bridge ({len(t['entries'])} AGVs {t['direction']}, clearance instant, "
        f"{t['stalled']} stalled)", "",
        f"Lane-capacity formula q = 3600·v/(L + s0 + v·h), L = {rules.vehicle_length_m:g} m, "
        f"s0 = {rules.standstill_gap_m:g} m, h = {rules.headway_s:g} s.", "",
        *_markdown([("", "AGVs per hour", "plans / q"),
                    ("achieved by the plans (steady state)", f"{t['achieved']:.0f}", ""),
                    (f"q at the corridor's bottleneck: {b.node} -> {b.lane[1]} at {b.speed * 3.6:.0f} km/h",
                     f"{b.per_hour:.0f}", f"{t['achieved'] / b.per_hour:.0%}"),
                    (f"q at the bridge's speed, {t['bridge_speed'] * 3.6:.0f} km/h", f"{t['q_bridge']:.0f}",
                     f"{t['achieved'] / t['q_bridge']:.0%}")]), "",
    ]
    left_out = [str(n) for n in asked if n not in sizes]
    if left_out:
        lines.append(f"Fleets of {', '.join(left_out)} AGVs do not fit on this corridor (more vehicles than places).")
    text = f"# Planner benchmark: {corridor.name} (maps/{name})\n\n" + "\n".join(lines)
    console.print(text)
    _plot(full, incremental, throughput, sizes, OUT / f"planner-{name}.png")
    return text


def _markdown(rows) -> list[str]:
    head, *body = rows
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in body]


def _plot(full, incremental, throughput, sizes, out: Path) -> None:
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(16, 4.6))
    a.plot(sizes, [full[n]["sipp_s"] for n in sizes], "o-", label="SIPP (prioritized)")
    done = [n for n in sizes if "baseline_s" in full[n]]
    a.plot(done, [full[n]["baseline_s"] for n in done], "s--", label="space-time A* baseline")
    stopped = [n for n in sizes if "baseline_over_s" in full[n]]
    a.plot(stopped, [full[n]["baseline_over_s"] for n in stopped], "^", color="C1", label="baseline stopped (budget)")
    a.axhline(1.0, color="grey", lw=0.8, ls=":", label="target 1 s")
    a.set(xlabel="AGVs", ylabel="full replan time (s)", yscale="log", title="Full replan")
    a.legend()
    b.boxplot([[x * 1000 for x in incremental[k]] for k in ("replan", "sipp", "baseline", "late", "delay")],
              tick_labels=["replan()", "SIPP", "baseline", "replan()\nlate", "delay()"])
    b.axhline(10, color="grey", lw=0.8, ls=":")
    b.set(ylabel="ms", yscale="log", title=f"Incremental replan, fleet of {sizes[-1]}")
    entries = throughput["entries"]
    c.step([(e - entries[0]) / 60 for e in entries], range(1, len(entries) + 1), where="post", label="plans")
    span = (entries[-1] - entries[0]) / 3600
    for per_hour, style, label in ((throughput["bottleneck"].per_hour, "--", "q at bottleneck"),
                                   (throughput["q_bridge"], ":", "q at bridge speed")):
        c.plot([0, span * 60], [1, 1 + per_hour * span], style, label=label)
    c.set(xlabel="minutes", ylabel="AGVs onto the crossing lane", ylim=(0, len(entries) * 1.1),
          title="Throughput, clearance instant")
    c.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
