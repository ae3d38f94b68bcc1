"""The demo's summary, read from a fake service: it must not contradict itself while the system keeps moving
under it (found in a bounded demo: "crossings VN->CN: 1" beside "first over the border line: not seen" and the
crossing order still counted as awaiting clearance)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from sim import demo
from sim.demo import Summary

STARTED_AT = 1_000.0  # the demo's start, wall clock (the service's timelines are on the wall clock too)


class MovingService:
    """The order list was read before the vehicle reached the border line; its own page, a moment later, after."""

    base = "http://127.0.0.1:1/api/v1"

    def __init__(self) -> None:
        self.listed = {"id": "ord-1", "state": "awaiting_clearance", "direction": "VN->CN"}
        timeline = [{"to_state": s, "at": STARTED_AT + t} for s, t in
                    (("created", 1.0), ("loaded", 20.0), ("awaiting_clearance", 44.0), ("crossing", 78.0))]
        self.detail = {**self.listed, "state": "crossing", "timeline": timeline}

    def get(self, path: str, **_params: Any) -> Any:
        if path == "/orders":
            return {"orders": [self.listed], "total": 1}
        if path == "/orders/ord-1":
            return self.detail
        assert path == "/alarms", path
        return {"alarms": [], "total": 0}


def test_a_crossing_after_the_watchs_last_look_is_in_the_summary_with_its_time():
    # the live watch saw the AGV move and pass its gate, but its last look came before the border line
    summary = Summary.read(MovingService(), 12.0, STARTED_AT, firsts={"moving": 13.0, "through a gate": 48.0})
    assert summary.crossings == {"VN->CN": 1}
    assert summary.first_crossing_s == 78.0  # from the order's own timeline, not "not seen"
    assert summary.orders == {"crossing": 1}  # the state read with that timeline, not the older list's
    assert (summary.first_moving_s, summary.first_gate_pass_s) == (13.0, 48.0)
    assert summary.gate_waits_s == [(78.0 - 44.0) * 12.0]


class ClearedService(MovingService):
    """An order held at its gate for 6 s, then cleared, its vehicle driving 28 s more to the border line."""

    def __init__(self) -> None:
        super().__init__()
        self.detail["timeline"].insert(3, {"to_state": "cleared", "at": STARTED_AT + 50.0})


def test_the_summary_counts_what_the_gate_held_not_the_drive_to_the_border_line():
    summary = Summary.read(ClearedService(), 12.0, STARTED_AT)
    assert summary.gate_waits_s == [(50.0 - 44.0) * 12.0]


def test_a_load_cleared_when_it_came_is_not_counted_as_held_at_its_gate():
    """Seen in a bounded demo: "4 of 4 crossings waited at a customs gate, median 0.0 min": each had stood a tick or
    two in awaiting_clearance with both clearances already in hand."""
    from rich.console import Console

    summary = Summary.read(ClearedService(), 12.0, STARTED_AT)
    summary.gate_waits_s = [0.0, 3.0, 12.0, 72.0, 300.0]
    console = Console(record=True, width=200)
    summary.print(console, 60.0)
    line = next(line for line in console.export_text().splitlines() if "held at a gate" in line)
    assert "2 of 5 crossings held at a customs gate over 30 s, median 3.1 min, longest 5.0 min" in line


class GateService:
    """One AGV in a gate's queue with its load cleared (the gate rule allows it): it is passing through."""

    base = MovingService.base

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed

    def get(self, path: str, **_params: Any) -> Any:
        if path == "/vehicles":
            return [{"id": "agv_001", "driving": True, "last_node": "vn_gate_out_2"}]
        if path == "/gates":
            return [{"id": "vn_gate_out_2", "queue": [{"vehicle_id": "agv_001", "allowed": self.allowed}]}]
        assert path == "/alarms", path
        return {"alarms": [], "total": 0}


@pytest.mark.parametrize("allowed", [True, False])
def test_an_agv_at_its_gate_is_waiting_only_while_the_gate_rule_refuses(monkeypatch, allowed):
    """Seen in a demo: "first AGV at a customs gate, waiting for both clearances" for an AGV whose load both
    customs had cleared 30 s before, in the same second as "first AGV through a customs gate"."""
    monkeypatch.setattr(demo, "_counts", lambda _service: (Counter({"loaded": 1}), Counter()))
    lines = demo.Watch(GateService(allowed), 12.0).lines(40.0)
    assert any("waiting for both clearances" in line for line in lines) is not allowed, lines
    assert f"waiting at the gates {int(not allowed)}" in lines[-1], lines
