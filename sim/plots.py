"""The fast mode's pictures (PNG): throughput over the day, a time-distance diagram of the bridge lanes, the gate
queues over time, the order dwell distributions, and the fleet-size sweep."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from fleet.orders import OrderState
from sim.fast.runner import FastRun

__all__ = ["plot_run", "plot_sweep"]

COLOURS = {0: "tab:blue", 1: "tab:orange"}


def plot_run(run: FastRun, out: Path) -> list[Path]:
    """Every plot of one run into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    return [_throughput(run, out / "throughput.png"), _time_distance(run, out / "bridge_time_distance.png"),
            _gate_queue(run, out / "gate_queue.png"), _dwell(run, out / "dwell.png")]


def _title(run: FastRun, what: str) -> str:
    m = run.metrics
    return f"{run.scenario.name}: {what} ({m['fleet_size']} AGVs, {m['duration_h']:g} h, seed {run.scenario.seed})"


def _save(fig: Any, ax: Any, title: str, path: Path, legend: bool = True, counts: bool = False) -> Path:
    """Title, legend and grid, written to ``path``; ``counts``: the y axis counts things (AGVs, orders), ticked in
    whole numbers (not "1.75 AGVs waiting")."""
    ax.set_title(title)
    if counts:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if legend:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _throughput(run: FastRun, path: Path) -> Path:
    """A bar per direction and hour, centred on the hour's whole-number tick; a last hour the run cut short is
    said on the axis (its bar counts only part of an hour)."""
    hourly = run.metrics["crossings"]["hourly"]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(hourly), 1)
    for i, (direction, counts) in enumerate(sorted(hourly.items())):
        hours = np.arange(len(counts))
        ax.bar(hours + (i - (len(hourly) - 1) / 2) * width, counts, width, label=direction, color=COLOURS[i % 2])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(-0.5, math.ceil(run.metrics["duration_h"]) - 0.5)
    short = run.metrics["duration_h"] % 1 * 60
    ax.set_xlabel("hour of the run from 00:00 (bar h: h:00 to h+1:00)"
                  + (f"; the last bar counts {short:.0f} min" if short >= 0.5 else ""))
    ax.set_ylabel("crossings in the hour")
    if not any(n for counts in hourly.values() for n in counts):
        _say_empty(ax, "no crossing in the run")
    return _save(fig, ax, _title(run, "crossings per hour"), path, counts=True)


def _say_empty(ax: Any, what: str) -> None:
    """Written across an empty plot, so that it reads as "nothing happened", not as a broken picture."""
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", color="grey", fontsize=12)


def _bridge_axis(run: FastRun) -> tuple[dict[str, float], str]:
    """Each bridge node's distance along the bridge from its first side's end (metres), and that side."""
    corridor = run.corridor
    names = sorted({node for _, _, node in run.recorder.bridge} | {n for lane in corridor.crossing_lanes
                                                                    for n in (lane.source, lane.target)})
    points = np.array([[corridor.nodes[n].x, corridor.nodes[n].y] for n in names])
    centre = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centre)
    along = (points - centre) @ vt[0]
    first = corridor.jurisdictions[0]
    firsts = [a for a, n in zip(along, names, strict=True) if corridor.nodes[n].jurisdiction == first]
    if firsts and np.mean(firsts) > np.mean(along):
        along = -along
    along -= along.min()
    return dict(zip(names, along.tolist(), strict=True)), first


def _time_distance(run: FastRun, path: Path) -> Path:
    """Vehicles on the bridge lanes in the busiest hour: distance along the bridge against time."""
    position, first = _bridge_axis(run)
    arrivals = run.recorder.bridge
    fig, ax = plt.subplots(figsize=(10, 5))
    if arrivals:
        counts: dict[int, int] = defaultdict(int)
        for t, _, _ in arrivals:
            counts[int(t // 3600)] += 1
        hour = max(sorted(counts), key=lambda h: counts[h])
        by_vehicle: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for t, vehicle, node in arrivals:
            if hour * 3600 - 600 <= t <= (hour + 1) * 3600 + 600:
                by_vehicle[vehicle].append((t, position[node]))
        for points in by_vehicle.values():
            trips: list[list[tuple[float, float]]] = [[points[0]]]
            for previous, point in itertools.pairwise(points):
                if point[0] - previous[0] > 600:
                    trips.append([])
                trips[-1].append(point)
            for trip in trips:
                if len(trip) < 2:
                    continue
                times = [(t - hour * 3600) / 60 for t, _ in trip]
                heading_out = trip[-1][1] >= trip[0][1]
                ax.plot(times, [s for _, s in trip], color=COLOURS[0 if heading_out else 1], lw=1.2, alpha=0.85)
        ax.set_xlim(-10, 70)
        ax.set_xlabel(f"minutes after {hour:02d}:00 (the hour with the most bridge traffic)")
        ax.plot([], [], color=COLOURS[0], label=f"leaving {first}")
        ax.plot([], [], color=COLOURS[1], label=f"arriving in {first}")
        ax.legend(loc="upper right")
    else:
        _say_empty(ax, "no vehicle on the bridge in the run")
    ax.set_ylabel(f"distance along the bridge lanes from the {first} end (m)")
    return _save(fig, ax, _title(run, "time-distance diagram of the bridge lanes"), path, legend=False)


def gate_queues(run: FastRun) -> dict[str, list[tuple[float, int]]]:
    """Per departure side (every one the scenario orders from, none waiting too): (time, loaded vehicles
    standing at its gates) at every change, from the start to the end of the run."""
    changes: dict[str, list[tuple[float, int]]] = {direction.split("->")[0]: []
                                                   for direction in run.metrics["crossings"]["by_direction"]}
    for order_id, log in run.recorder.orders.items():
        at = next((t for t, s, _ in log.states if s == OrderState.AWAITING_CLEARANCE), None)
        if at is None:
            continue
        side = log.demand.direction.split("->")[0]
        changes.setdefault(side, []).append((at, 1))
        changes[side].append((run.recorder.left_gate.get(order_id, run.scenario.duration_s), -1))
    series = {}
    for side, steps in sorted(changes.items()):
        level, points = 0, [(0.0, 0)]
        for t, delta in sorted(steps):
            level += delta
            points.append((t, level))
        series[side] = [*points, (run.scenario.duration_s, level)]
    return series


def _gate_queue(run: FastRun, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, (side, points) in enumerate(gate_queues(run).items()):
        ax.step([t / 3600 for t, _ in points], [n for _, n in points], where="post", label=f"{side} gates",
                color=COLOURS[i % 2])
    ax.set_xlim(0, run.scenario.duration_h)
    ax.set_xlabel("hour of the run from 00:00")
    ax.set_ylabel("loaded AGVs waiting at the gates")
    return _save(fig, ax, _title(run, "gate queues"), path, counts=True)


def dwell_minutes(run: FastRun) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for log in run.recorder.orders.values():
        done = next((t for t, s, _ in log.states if s == OrderState.DELIVERED), None)
        if done is not None:
            out[log.demand.direction].append((done - log.demand.ready_s) / 60)
    return dict(sorted(out.items()))


def _dwell(run: FastRun, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4))
    dwell = dwell_minutes(run)
    top = max((max(v) for v in dwell.values() if v), default=60.0)
    bins = np.linspace(0, top * 1.02, 40).tolist()  # (matplotlib's stub takes a sequence of floats, no array)
    for i, (direction, values) in enumerate(dwell.items()):
        ax.hist(values, bins=bins, alpha=0.6, label=f"{direction} ({len(values)} delivered)", color=COLOURS[i % 2])
        for q, style in ((0.5, "-"), (0.95, "--")):
            if values:
                ax.axvline(float(np.quantile(values, q)), color=COLOURS[i % 2], ls=style, lw=1)
    ax.set_xlabel("order dwell: ready at the dock to delivered (minutes); lines: p50, dashed: p95")
    ax.set_ylabel("orders")
    if not dwell:
        _say_empty(ax, "no order delivered in the run")
    return _save(fig, ax, _title(run, "order dwell"), path, legend=bool(dwell), counts=True)


def plot_sweep(rows: list[dict[str, Any]], scenario: str, path: Path) -> Path:
    """Throughput (containers a day) and dwell (p50, p95) against fleet size, one plot."""
    fleet = [r["fleet"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(fleet, [r["containers_per_day"] for r in rows], "o-", color="tab:blue", label="containers a day")
    ax.plot(fleet, [r["crossings_per_day"] for r in rows], "s-", color="tab:cyan", label="crossings a day")
    ax.set_xlabel("fleet size (AGVs)")
    ax.set_ylabel("a day")
    right = ax.twinx()
    for key, style, label in (("dwell_p50_min", "^-", "dwell p50"), ("dwell_p95_min", "v--", "dwell p95")):
        right.plot(fleet, [math.nan if r[key] is None else r[key] for r in rows], style, color="tab:red", label=label)
    right.set_ylabel("order dwell (minutes)")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="center right")
    path.parent.mkdir(parents=True, exist_ok=True)
    return _save(fig, ax, f"{scenario}: throughput and dwell against fleet size", path, legend=False)
