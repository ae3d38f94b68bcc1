"""The fast mode's plots, drawn from a real short run: every one written as a PNG, what it shows counted against
the run's own metrics, and counts ticked in whole numbers."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import pytest

import sim.plots
from sim.fast.runner import run_fast
from sim.scenario import load_scenario
from tests.sim.test_fast_mode import _small


@pytest.mark.slow
def test_every_plot_of_a_run_is_drawn_and_counts_in_whole_numbers(tmp_path: Path, monkeypatch) -> None:
    run = run_fast(load_scenario(_small(tmp_path)))
    figures = []
    monkeypatch.setattr(sim.plots.plt, "close", figures.append)  # kept open, to be looked at
    written = sim.plots.plot_run(run, tmp_path / "plots")
    assert [p.name for p in written] == ["throughput.png", "bridge_time_distance.png", "gate_queue.png", "dwell.png"]
    for path in written:
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[0] >= 400 and pixels.shape[1] >= 800 and pixels.std() > 0, (path, pixels.shape)
    throughput, time_distance, gate_queue, dwell = (figure.axes[0] for figure in figures)
    # as many bars as hours, each as tall as the metrics' count of that hour's crossings
    hourly = run.metrics["crossings"]["hourly"]
    assert sorted(bar.get_height() for bar in throughput.patches) == sorted(n for counts in hourly.values()
                                                                            for n in counts)
    # one line per delivered order's direction in the dwell plot's legend, with the count delivered
    delivered = {d: c["count"] for d, c in run.metrics["dwell_min"].items()}
    assert [t.get_text() for t in dwell.get_legend().get_texts()] == [f"{d} ({n} delivered)" for d, n in
                                                                     sorted(delivered.items())]
    assert time_distance.lines, "no crossing drawn on the bridge lanes"
    for counts in (throughput, gate_queue, dwell):
        ticks = [t for t in counts.get_yticks() if counts.get_ylim()[0] <= t <= counts.get_ylim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), (counts.get_ylabel(), ticks)
