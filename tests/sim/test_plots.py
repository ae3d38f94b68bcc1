"""The fast mode's plots, drawn from a real short run: every one written as a PNG, what it shows counted against
the run's own metrics, and counts ticked in whole numbers."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.image
import pytest
import yaml

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


def _visible_ticks(axis_ticks, limits) -> list[float]:
    return [t for t in axis_ticks if limits[0] <= t <= limits[1]]


@pytest.mark.slow
def test_the_bridge_diagram_spans_the_deck_and_the_hours_are_whole(tmp_path: Path, monkeypatch) -> None:
    """The bridge diagram showed only the crossing lanes (50 m around the border line, labelled as the bridge
    from its VN end: Bac Luan II's deck is 618 m); the throughput's hour axis was ticked -0.4, -0.3 ... on a
    short run, and the gate queues stopped at the last change instead of the run's end."""
    run = run_fast(load_scenario(_small(tmp_path)))
    figures = []
    monkeypatch.setattr(sim.plots.plt, "close", figures.append)
    sim.plots.plot_run(run, tmp_path / "plots")
    throughput, time_distance, gate_queue, _ = (figure.axes[0] for figure in figures)
    drawn = [y for line in time_distance.lines for y in line.get_ydata()]
    assert min(drawn) == 0 and max(drawn) >= 600, (min(drawn), max(drawn))  # the deck, end to end
    ticks = _visible_ticks(throughput.get_xticks(), throughput.get_xlim())
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert throughput.get_xlim() == (-0.5, 1.5)  # 1.5 h: hours 0 and 1, the last one cut short (said on the axis)
    assert "the last bar counts 30 min" in throughput.get_xlabel()
    for line in gate_queue.lines:
        assert line.get_xdata()[-1] == pytest.approx(1.5), line.get_label()


def test_a_run_where_nothing_happens_says_so_in_every_plot(tmp_path: Path, monkeypatch) -> None:
    """A demand profile with nothing in the first hour: the metrics had no direction at all (crossings {}), the
    plots were empty axes with a legend warning, and the gate queues showed no side."""
    data = yaml.safe_load(_small(tmp_path).read_text())
    data["demand"]["profile"] = [0.0] + [1.0] * 23
    data["duration_h"] = 0.5
    path = tmp_path / "quiet.yaml"
    path.write_text(yaml.safe_dump(data))
    run = run_fast(load_scenario(path))
    assert run.metrics["crossings"]["by_direction"] == {"CN->VN": 0, "VN->CN": 0}
    assert run.metrics["crossings"]["hourly"] == {"CN->VN": [0], "VN->CN": [0]}
    assert set(run.metrics["dwell_min"]) == {"CN->VN", "VN->CN"}
    figures = []
    monkeypatch.setattr(sim.plots.plt, "close", figures.append)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No artists with labels found to put in legend"
        sim.plots.plot_run(run, tmp_path / "plots")
    throughput, time_distance, gate_queue, dwell = (figure.axes[0] for figure in figures)
    said = {axes: " ".join(t.get_text() for t in axes.texts) for axes in (throughput, time_distance, dwell)}
    assert "no crossing" in said[throughput]
    assert "no vehicle on the bridge" in said[time_distance]
    assert "no order delivered" in said[dwell] and dwell.get_legend() is None
    assert sorted(line.get_label() for line in gate_queue.lines) == ["CN gates", "VN gates"]
    for line in gate_queue.lines:
        assert list(line.get_ydata()) == [0, 0] and line.get_xdata()[-1] == pytest.approx(0.5)
