"""Day planner benchmark on Li & Lim's 56 pickup-and-delivery instances of 100 tasks.

Every solver configuration (``--backends``, default PyVRP and OR-Tools routing) plans each instance with the
same time limit (``--time-limit``, default 10 s) on this machine; every set of routes is re-checked by an
independent checker (tests/bench/lilim.py: precedence, capacity, windows, depot return, distance in double
precision from the coordinates) and compared with the best-known results (fewest vehicles, then distance).
The tables show, side by side, the checker's figures and the solver's own (rounded integer) figures.
Goal: >= 50 of 56 best-known vehicle counts, median distance gap < 1 % where the count is matched.

    .venv/bin/python tests/bench/bench_dayplan.py [--time-limit 10] [--backends pyvrp ortools] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import lilim
import matplotlib
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from planner.dayplan import Backend, Clock, plan_day

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OUT = Path("out/bench")
QUICK = ("lc101", "lr101", "lrc101")


@dataclass(frozen=True)
class Row:
    instance: str
    backend: str
    best_vehicles: int
    best_distance: float
    vehicles: int  # the checker's count
    distance: float  # the checker's distance
    violations: int  # the checker's
    planner_feasible: bool  # what the day planner's own timing said
    solver_vehicles: int
    solver_distance: float
    solver_feasible: bool
    runtime_s: float

    @property
    def matched(self) -> bool:
        return self.violations == 0 and self.vehicles <= self.best_vehicles

    @property
    def gap(self) -> float:
        return (self.distance - self.best_distance) / self.best_distance


def run(names: list[str], backends: list[Backend], limit: float, seed: int, clock: Clock, console: Console,
        written: Callable[[list[Row]], None]) -> list[Row]:
    """Every backend on every instance; ``written`` gets the rows so far after each one (a run stopped early
    still leaves its table)."""
    best = lilim.best_known()
    rows: list[Row] = []
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        tasks = {b: progress.add_task(f"{b.value:8}", total=len(names), status="") for b in backends}
        for backend in backends:
            matched = 0
            for name in names:
                progress.update(tasks[backend], status=f"{name}: solving ({matched} matched so far)")
                instance = lilim.read_instance(lilim.DATA / f"{name}.txt")
                started = time.perf_counter()
                plan = plan_day(lilim.day_problem(instance), backend, limit, seed, clock)
                took = time.perf_counter() - started
                checked = lilim.check(instance, lilim.task_routes(plan))
                row = Row(name, backend.value, best[name].vehicles, best[name].distance, checked.vehicles,
                          checked.distance, len(checked.violations), plan.feasible, plan.solver.vehicles,
                          plan.solver.distance_m, plan.solver.feasible, took)
                rows.append(row)
                written(rows)
                matched += row.matched
                progress.console.print(f"{backend.value} {name}: {row.vehicles} vehicles (best {row.best_vehicles}), "
                                       f"distance {row.distance:.2f} ({row.gap:+.2%}), {took:.1f} s wall"
                                       + (f", [red]checker: {checked.violations[:3]}" if checked.violations else ""))
                progress.update(tasks[backend], advance=1, status=f"{name}: {row.vehicles} v "
                                f"(best {row.best_vehicles}), gap {row.gap:+.2%}; {matched} matched")
    return rows


def interleaved(names: list[str]) -> list[str]:
    """The six classes (lc1, lc2, lr1, lr2, lrc1, lrc2) in turn, so a run stopped early covers them all."""
    classes: dict[str, list[str]] = {}
    for name in sorted(names):
        classes.setdefault(name[:-2], []).append(name)
    return [n for group in itertools.zip_longest(*classes.values()) for n in group if n]


def summary(rows: list[Row], backend: str) -> dict:
    mine = [r for r in rows if r.backend == backend]
    gaps = [r.gap for r in mine if r.matched and r.vehicles == r.best_vehicles]
    return dict(backend=backend, instances=len(mine), matched=sum(r.matched for r in mine),
                vehicles=sum(r.vehicles for r in mine), best=sum(r.best_vehicles for r in mine),
                median_gap=statistics.median(gaps) if gaps else float("nan"),
                mean_gap=statistics.mean(gaps) if gaps else float("nan"),
                infeasible=sum(r.violations > 0 for r in mine),
                agree=sum(r.planner_feasible == (r.violations == 0) for r in mine),
                solver_agree=sum(r.solver_feasible == (r.violations == 0) for r in mine),
                solver_vehicles=sum(r.solver_vehicles for r in mine),
                distance_diff=max((abs(r.solver_distance - r.distance) for r in mine), default=0.0),
                runtime=statistics.median(r.runtime_s for r in mine))


def report(rows: list[Row], backends: list[str], limit: float, clock: str, load: float, console: Console) -> str:
    sums = [summary(rows, b) for b in backends]
    head = ("solver", "best-known vehicle count matched", "vehicles (best-known)", "median distance gap where "
            "matched", "mean gap", "routes the checker refuses", "planner's verdict = checker's",
            "solver's own vehicles", "solver's own distance vs checker's (max diff)", "median wall time")
    table = Table(title=f"Li & Lim 100-task instances, {limit:g} s ({clock} clock) per instance, independent checker "
                        f"(machine load {load:.1f} on {os.cpu_count()} cores at the end)")
    for column in head:
        table.add_column(column)
    lines = [f"# {table.title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in sums:
        cells = (s["backend"], f"{s['matched']} / {s['instances']}", f"{s['vehicles']} ({s['best']})",
                 f"{s['median_gap']:.2%}", f"{s['mean_gap']:.2%}", str(s["infeasible"]),
                 f"{s['agree']} / {s['instances']}", str(s["solver_vehicles"]), f"{s['distance_diff']:.3f}",
                 f"{s['runtime']:.1f} s")
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    names = list(dict.fromkeys(r.instance for r in rows))
    by = {(r.instance, r.backend): r for r in rows}
    head2 = ["instance", "best-known"] + [f"{b}: checker (solver's own)" for b in backends]
    lines += ["", "## Per instance: vehicles / distance (gap to best-known)", "", "| " + " | ".join(head2) + " |",
              "|" + "---|" * len(head2)]
    for name in names:
        first = next(by[(name, b)] for b in backends if (name, b) in by)
        cells = [name, f"{first.best_vehicles} / {first.best_distance:.2f}"]
        for b in backends:
            if (name, b) not in by:
                cells.append("-")
                continue
            r = by[(name, b)]
            flag = "" if r.violations == 0 else f", **{r.violations} violations**"
            cells.append(f"{r.vehicles} / {r.distance:.2f} ({r.gap:+.2%}{flag}) ({r.solver_vehicles} / "
                         f"{r.solver_distance:.2f})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], backends: list[str], out: Path) -> None:
    names = list(dict.fromkeys(r.instance for r in rows))
    by = {(r.instance, r.backend): r for r in rows}
    fig, (a, b) = plt.subplots(2, 1, figsize=(14, 7), sharex=True, layout="constrained")
    width = 0.8 / len(backends)
    for i, backend in enumerate(backends):
        x = [j + (i - (len(backends) - 1) / 2) * width for j in range(len(names))]
        a.bar(x, [by[(n, backend)].vehicles - by[(n, backend)].best_vehicles for n in names], width, label=backend)
        b.bar(x, [by[(n, backend)].gap * 100 if by[(n, backend)].vehicles == by[(n, backend)].best_vehicles
                  else 0 for n in names], width, label=backend)
    a.set(ylabel="vehicles over best-known", title="Li & Lim 100: vehicles above the best-known count")
    b.set(ylabel="distance gap % (where matched)", title="distance gap to best-known where the count is matched")
    b.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    a.legend()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds of search per instance")
    parser.add_argument("--backends", nargs="+", default=[Backend.PYVRP.value, Backend.ORTOOLS.value],
                        choices=[Backend.PYVRP.value, Backend.ORTOOLS.value])
    parser.add_argument("--instances", nargs="+", help="instance names (default: all 56)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=[c.value for c in Clock], default=Clock.CPU.value,
                        help="what the time limit counts: CPU seconds of this process (default: the machine is "
                             "shared, others' load would take the search's time) or wall seconds")
    parser.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK)} at 0.5 s: proves the bench works")
    parser.add_argument("--report-from", nargs="+", type=Path, metavar="JSON",
                        help="solve nothing: one table and plot from the rows of earlier runs (dayplan-*.json)")
    args = parser.parse_args()
    names = args.instances or interleaved([p.stem for p in lilim.instances()])
    if args.quick:
        names, args.time_limit = list(QUICK), 0.5
    console = Console(width=None if sys.stdout.isatty() else 200)
    OUT.mkdir(parents=True, exist_ok=True)
    backends = [Backend(b) for b in args.backends]
    if args.report_from:
        rows = [Row(**r) for path in args.report_from for r in json.loads(path.read_text())]
        done = list(dict.fromkeys(r.backend for r in rows))
        (OUT / "dayplan.md").write_text(report(rows, done, args.time_limit, args.clock, os.getloadavg()[0], console))
        plot(rows, done, OUT / "dayplan.png")
        console.print(f"wrote {OUT / 'dayplan.md'} and {OUT / 'dayplan.png'}")
        return

    def written(rows: list[Row]) -> None:
        done = [b for b in args.backends if any(r.backend == b for r in rows)]
        text = report(rows, done, args.time_limit, args.clock, os.getloadavg()[0], Console(quiet=True))
        total = len(names) * len(backends)
        (OUT / f"dayplan-{'-'.join(args.backends)}.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
        (OUT / "dayplan.md").write_text(text if len(rows) == total else
                                        f"**Partial: {len(rows)} of {total} runs so far.**\n\n{text}")

    rows = run(names, backends, args.time_limit, args.seed, Clock(args.clock), console, written)
    report(rows, args.backends, args.time_limit, args.clock, os.getloadavg()[0], console)
    plot(rows, args.backends, OUT / "dayplan.png")
    console.print(f"wrote {OUT / 'dayplan.md'} and {OUT / 'dayplan.png'}")


if __name__ == "__main__":
    main()
