"""``xborder sim``: run a scenario, compare two runs' metrics, sweep the fleet size (docs/simulation.md)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fleet.config import describe_invalid
from sim.scenario import Scenario, ScenarioError, load_scenario

app = typer.Typer(help="Simulate a day of the corridor: scenarios, metrics and plots.", no_args_is_help=True)
console = Console()


def _scenario(name: str, hours: float | None, fleet: int | None, seed: int | None) -> Scenario:
    try:
        scenario = load_scenario(name)
    except ScenarioError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    update: dict[str, Any] = {}
    if hours is not None:
        update["duration_h"] = hours
    if seed is not None:
        update["seed"] = seed
    try:  # validated again: a copy with an update is not (--hours inf went past duration_h's limit, for ever)
        scenario = Scenario.model_validate({**scenario.model_dump(), **update})
    except ValidationError as exc:
        console.print(f"[red]error:[/red] {name}: {describe_invalid(exc)}")
        raise typer.Exit(2) from None
    return scenario.with_fleet(fleet) if fleet is not None else scenario


def _log_to(path: Path) -> None:
    """The fleet's own log (its warnings: stalled vehicles, take-backs) goes to a file beside the metrics."""
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def metrics_text(metrics: dict[str, Any]) -> str:
    """The metrics file's bytes: sorted keys, fixed indentation, so the same run writes the same file."""
    return json.dumps(metrics, indent=2, sort_keys=True) + "\n"


@contextmanager
def _simulated_progress(label: str, duration_s: float, at: str) -> Iterator[Callable[[float], None]]:
    """A progress bar over simulated time; the ``report(t)`` it yields moves it. When the output is no terminal
    (a log, CI), where a bar shows nothing until the end, a line each simulated hour instead: a long run in a
    log said nothing for 45 minutes."""
    started = time.monotonic()
    hours_said = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[at]}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task(label, total=duration_s, at=at)

        def report(t: float) -> None:
            nonlocal hours_said
            clock = f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d} simulated"
            progress.update(task, completed=t, at=clock)
            if not console.is_terminal and t // 3600 > hours_said:
                hours_said = int(t // 3600)
                progress.console.print(f"{label}: {clock}, {time.monotonic() - started:.0f} s wall")

        yield report


def _run(scenario: Scenario, label: str, corridor: Any = None):  # -> FastRun (the fleet loads only to run)
    from sim.fast.runner import SimError, run_fast

    with _simulated_progress(label, scenario.duration_s, "00:00") as report:
        try:
            return run_fast(scenario, progress=report, corridor=corridor)
        except SimError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None


@app.command()
def run(
    scenario_name: str = typer.Argument(..., metavar="SCENARIO", help="a scenario file, or a shipped one's name"),
    fast: bool = typer.Option(False, "--fast", help="in one process on simulated time"),
    ros: bool = typer.Option(False, "--ros", help="with the real parts: xborder serve, one agv_agent process per "
                                                  "AGV over DDS, both customs simulators over ZeroMQ, time-scaled"),
    time_scale: float = typer.Option(10.0, "--time-scale", min=1.0, max=30.0,
                                     help="--ros: simulated seconds per wall second"),
    until_done: bool = typer.Option(False, "--until-done", help="--ros: stop once every order has ended (the "
                                                                "duration is then the longest it runs)"),
    out: Path | None = typer.Option(None, "--out", help="folder for metrics.json and the plots "
                                                        "(default: out/sim/<scenario>)"),
    hours: float | None = typer.Option(None, "--hours", min=0.01, help="simulate this long instead"),
    fleet: int | None = typer.Option(None, "--fleet", min=1, help="this many AGVs instead"),
    seed: int | None = typer.Option(None, "--seed", min=0),
    plots: bool = typer.Option(True, "--plots/--no-plots"),
) -> None:
    """Run a scenario and write its metrics (metrics.json) and plots."""
    if fast == ros:
        console.print("[red]error:[/red] give one mode: --fast (one process on simulated time) or --ros (the real "
                      "parts, time-scaled)")
        raise typer.Exit(2)
    chosen = _scenario(scenario_name, hours, fleet, seed)
    folder = out or Path("out/sim") / chosen.name
    folder.mkdir(parents=True, exist_ok=True)
    if ros:
        result = _run_ros(chosen, time_scale, folder, until_done)
        speed = (f"{result.achieved_scale:.1f}x real time on the vehicles' clock (asked {time_scale:g}x), "
                 f"{len(result.refused_orders)} orders refused by the service")
    else:
        _log_to(folder / "fleet.log")
        result = _run(chosen, f"{chosen.name} ({chosen.fleet.size} AGVs)")
        speed = (f"{chosen.duration_s / result.wall_s:.0f}x real time ({result.ticks} dispatch ticks, "
                 f"{result.vehicle_events} vehicle events)")
    (folder / "metrics.json").write_text(metrics_text(result.metrics), encoding="utf-8")
    written = [folder / "metrics.json"]
    if plots:
        from sim.plots import plot_run

        written += plot_run(result, folder)
    _summary(result.metrics)
    console.print(f"{chosen.duration_h:g} simulated hours in {result.wall_s:.1f} s wall: {speed}")
    for path in written:
        console.print(f"  {path}")
    if result.metrics["safety"]["crossings_without_both_clearances"]:
        console.print("[red]SAFETY: crossings without both clearances (see safety.violations)[/red]")
        raise typer.Exit(1)


def _run_ros(scenario: Scenario, scale: float, folder: Path, until_done: bool):  # -> RosRun (ROS loads only to run)
    import os
    import signal

    from sim.ros_mode import RosError, run_ros

    ignored = [name for name in ("breakdowns_per_vehicle_day", "link_losses_per_vehicle_day", "operator_holds",
                                 "forged_events", "equivocating_events") if getattr(scenario.faults, name)]
    if ignored:
        console.print(f"[yellow]note:[/yellow] ROS mode does not inject faults.{', faults.'.join(ignored)} "
                      "(the fast mode does); customs outages it does")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")  # DDS on loopback, like the demo

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):  # stopped by a service manager: still stop everything
        signal.signal(signum, interrupt)
    logs = folder / "logs"
    with _simulated_progress(f"{scenario.name} ({scenario.fleet.size} AGVs, ROS, {scale:g}x)",
                             scenario.duration_s, "starting") as report:
        try:
            return run_ros(scenario, scale, logs=logs, progress=report, until_done=until_done)
        except KeyboardInterrupt:
            console.print("stopped: every process it started is stopped")
            raise typer.Exit(130) from None
        except (RosError, TimeoutError, RuntimeError, ValueError) as exc:
            console.print(f"[red]error:[/red] {exc} (logs in {logs})")
            raise typer.Exit(1) from None


def _summary(metrics: dict[str, Any]) -> None:
    table = Table(title=f"{metrics['scenario']['name']}: {metrics['fleet_size']} AGVs, {metrics['duration_h']:g} h")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in flatten(metrics).items():
        if key.startswith(("crossings.per_hour_each_way", "containers", "dwell_min", "gate_wait_min.p",
                           "gate_wait_min.by_cause_mean", "vehicles.", "safety.crossings", "orders.delivered")):
            table.add_row(key, _fmt(value))
    console.print(table)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys to scalar values (lists, like the hourly counts and the violations, are left out)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flatten(value, name + ".")
        elif not isinstance(value, list):
            out[name] = value
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise typer.BadParameter(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(f"{path}: not a metrics JSON file: {exc}") from None
    if not isinstance(data, dict) or "scenario" not in data or "crossings" not in data:
        raise typer.BadParameter(f"{path}: not a metrics file of `xborder sim run` (no scenario, no crossings)")
    return data


@app.command()
def compare(first: Path = typer.Argument(..., metavar="A.json"), second: Path = typer.Argument(..., metavar="B.json"),
            everything: bool = typer.Option(False, "--all", help="every metric, also those equal in both")) -> None:
    """Two runs' metrics side by side, with the difference."""
    a, b = flatten(_read_metrics(first)), flatten(_read_metrics(second))
    table = Table(title=f"{first}  vs  {second}")
    table.add_column("metric")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    table.add_column("B - A", justify="right")
    for key in list(a) + [k for k in b if k not in a]:
        va, vb = a.get(key, ""), b.get(key, "")
        if va == vb and not everything and not key.startswith("scenario."):
            continue
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (va, vb))
        table.add_row(key, _fmt(va), _fmt(vb), _fmt(vb - va) if numbers else "")
    console.print(table)


@app.command()
def sweep(
    scenario_name: str = typer.Argument(..., metavar="SCENARIO"),
    fleet: str = typer.Option("20,40,80", "--fleet", help="fleet sizes, comma-separated"),
    hours: float | None = typer.Option(None, "--hours", min=0.01, help="simulate this long instead"),
    out: Path | None = typer.Option(None, "--out", help="folder for sweep.json and sweep.png"),
) -> None:
    """Throughput and dwell against fleet size: one run per size, one plot."""
    try:
        sizes = sorted({int(s) for s in fleet.split(",") if s.strip()})
    except ValueError:
        raise typer.BadParameter(f"--fleet: {fleet!r} is not a comma-separated list of whole numbers") from None
    if not sizes or min(sizes) < 1:
        raise typer.BadParameter("--fleet: give at least one fleet size, each at least 1")
    base = _scenario(scenario_name, hours, None, None)
    folder = out or Path("out/sim") / f"{base.name}_sweep"
    folder.mkdir(parents=True, exist_ok=True)
    _log_to(folder / "fleet.log")
    from fleet.maps import load_corridor

    corridor = load_corridor(base.map_folder())  # once for every size
    rows = []
    for size in sizes:
        result = _run(base.with_fleet(size), f"{base.name} with {size} AGVs", corridor)
        rows.append(sweep_row(size, result.metrics))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"metrics_{size}.json").write_text(metrics_text(result.metrics), encoding="utf-8")
    from sim.plots import plot_sweep

    (folder / "sweep.json").write_text(json.dumps(rows, indent=2, sort_keys=True, allow_nan=False) + "\n",
                                       encoding="utf-8")
    path = plot_sweep(rows, base.name, folder / "sweep.png")
    table = Table(title=f"{base.name}: fleet-size sweep ({base.duration_h:g} h each)")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(_fmt(v) for v in row.values()))
    console.print(table)
    console.print(f"  {folder / 'sweep.json'}\n  {path}")


@app.command("fleet-needed")
def fleet_needed_command(
    scenario_name: str = typer.Argument(..., metavar="SCENARIO"),
    hours: float | None = typer.Option(None, "--hours", min=0.01, help="this much of the day's demand instead"),
    deadline_h: float = typer.Option(8.0, "--deadline-h", min=0.1, help="each order delivered within this"),
    time_limit: float = typer.Option(10.0, "--time-limit", min=0.1, help="seconds of search"),
    backend: str = typer.Option("ortools", "--backend", help="the day planner's solver: ortools, pyvrp or auto"),
) -> None:
    """How many AGVs the day's demand needs by the day planner: a lower bound (customs waits and gate traffic
    are not in it) beside what `xborder sim sweep` measures."""
    from fleet.maps import load_corridor
    from planner.dayplan import Backend
    from planner.exceptions import InvalidRequest
    from sim.capacity import CapacityError, day_plan_fleet

    try:
        solver = Backend(backend)
    except ValueError:
        raise typer.BadParameter(f"--backend: {backend!r} is not one of {[b.value for b in Backend]}") from None
    scenario = _scenario(scenario_name, hours, None, None)
    try:
        answer = day_plan_fleet(scenario, load_corridor(scenario.map_folder()), deadline_h, time_limit, solver)
    except (CapacityError, InvalidRequest) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    plan = answer.sizing.plan
    if answer.needed is None:
        console.print(f"{scenario.name}: in {time_limit:g} s the day planner found no plan that delivers all "
                      f"{answer.orders} orders of {scenario.duration_h:g} h within {deadline_h:g} h with at most "
                      f"{answer.offered} AGVs (a longer --time-limit may); its best breaks: "
                      + "; ".join(plan.breaks[:3]))
        raise typer.Exit(1)
    console.print(f"{scenario.name}: {answer.orders} orders in {scenario.duration_h:g} h, each delivered within "
                  f"{deadline_h:g} h: [bold]{answer.needed}[/bold] of {answer.offered} AGVs "
                  f"(day planner, {solver.value}, {time_limit:g} s; customs waits not counted: a lower bound)")


def sweep_row(size: int, metrics: dict[str, Any]) -> dict[str, Any]:
    per_day = 24 / max(metrics["duration_h"], 1e-9)
    dwell = [d for d in metrics["dwell_min"].values() if d["count"]]
    weights = sum(d["count"] for d in dwell)
    return {
        "fleet": size,
        "crossings_per_day": round(sum(metrics["crossings"]["by_direction"].values()) * per_day, 1),
        "containers_per_day": metrics["containers_per_day"],
        "delivered": metrics["orders"]["delivered"],
        "dwell_p50_min": round(sum(d["p50"] * d["count"] for d in dwell) / weights, 1) if weights else None,
        "dwell_p95_min": max((d["p95"] for d in dwell), default=None),  # None: nothing delivered (JSON null)
        "gate_wait_p95_min": metrics["gate_wait_min"]["p95"],
        "utilization": metrics["vehicles"]["utilization"],
        "unsafe_crossings": metrics["safety"]["crossings_without_both_clearances"],
    }
