"""``xborder demo`` as a user runs it, in a real subprocess: the service, vehicles over DDS, both customs
simulators over ZeroMQ with CURVE and the order stream, on ports and a ROS domain of their own. It must move
containers both ways, print its summary, and leave no process behind, whether it ends by itself or is
interrupted."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sim.processes import free_port, marked_processes

pytestmark = [pytest.mark.ros, pytest.mark.slow]

BIN = Path(sys.executable).parent
#: the smoke test's size: one vehicle on each side, fast enough to cross both ways within its duration. Quiet, the
#: first delivery comes at about 100 s; in the CI's realtime stream at load ~20, twice, none had by 200 s (the
#: vehicles were driven off their docks before they took the orders waiting there: see test_factsheet.py's last
#: two tests for the causes found)
VEHICLES, TIME_SCALE, DURATION_S = 2, 20.0, 260


@contextmanager
def demo(var: Path, *options: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """The demo on free ports and a ROS domain of its own; every process it starts inherits ``marker``.
    Killed if the test fails while it runs (what it started then gets SIGTERM from setpriv)."""
    marker = uuid.uuid4().hex
    env = {**os.environ, "ROS_DOMAIN_ID": str(1 + os.getpid() % 19), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
           "XBORDER_TEST_MARKER": marker}
    process = subprocess.Popen([str(BIN / "xborder"), "demo", "--var", str(var), "--port", str(free_port()),
                                "--customs-port", str(free_port(consecutive=2)), "--vehicles", str(VEHICLES),
                                "--time-scale", str(TIME_SCALE), *options],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        yield process, marker
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _evidence(var: Path) -> str:
    """What the service logged and each order's timeline: why a demo delivered nothing (pytest removes the
    folder of an older run, and the CI's machine is not at hand)."""
    log = (var / "demo-logs" / "serve.log").read_text(errors="replace").splitlines()
    with sqlite3.connect(var / "demo.db") as db:
        moves = db.execute("SELECT order_id, at, to_state, reason FROM order_transitions ORDER BY at").fetchall()
        vehicles = db.execute("SELECT * FROM vehicles").fetchall()
        customs = db.execute("SELECT received_at, authority, seq, json_extract(raw, '$.type'), "
                             "json_extract(raw, '$.vehicle_id') FROM customs_events ORDER BY received_at "
                             "LIMIT 12").fetchall()
    return "\n".join(["", "-- serve.log (not migrations):", *[line for line in log if "alembic" not in line][-80:],
                      "-- order transitions:", *(f"{o} {at:.1f} {state} {why}" for o, at, state, why in moves),
                      "-- vehicles:", *map(str, vehicles),
                      "-- the first customs events (received at, authority, seq, type, vehicle):", *map(str, customs)])


@pytest.mark.timeout(DURATION_S + 240)
def test_a_bounded_demo_moves_containers_both_ways_and_stops_everything(tmp_path):
    with demo(tmp_path / "var", "--duration", str(DURATION_S)) as (process, marker):
        output, _ = process.communicate(timeout=DURATION_S + 180)
    assert process.returncode == 0, output
    assert "console   http://127.0.0.1:" in output and "dispatcher" in output, output
    assert "orders delivered" in output and "crossings" in output, output  # the summary table
    summary = json.loads((tmp_path / "var" / "demo-summary.json").read_text())
    assert summary["orders"].get("delivered", 0) > 0, output + _evidence(tmp_path / "var")
    assert summary["crossings"].get("VN->CN", 0) > 0 and summary["crossings"].get("CN->VN", 0) > 0, \
        output + _evidence(tmp_path / "var")
    # the newcomer's first minute, measured and printed: an AGV moving, then one through its customs gate
    assert 0 < summary["first_moving_s"] < summary["first_gate_pass_s"] <= summary["first_crossing_s"], summary
    assert "first gate pass" in output and "first AGV moving" in output, output
    assert not any(kind == "customs_event_refused" for kind in summary["alarms"]), summary["alarms"]
    assert marked_processes(marker) == []


@pytest.mark.timeout(180)
def test_ctrl_c_stops_every_process_it_started(tmp_path):
    with demo(tmp_path / "var") as (process, marker):
        lines = []
        for line in process.stdout:  # until it runs: the welcome ends with where the logs are
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        else:
            pytest.fail("".join(lines))
        started = marked_processes(marker)
        assert sum("agv_vehicle" in c for c in started) == VEHICLES and sum(" serve " in c for c in started) == 1 \
            and sum("customs simulate" in c for c in started) == 2, started
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, "".join(lines) + rest
    assert "stopping" in rest and "orders delivered" in rest, rest
    deadline = time.monotonic() + 5
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marked_processes(marker) == []


@pytest.mark.timeout(180)
def test_a_demo_killed_outright_takes_its_processes_along(tmp_path):
    with demo(tmp_path / "var") as (process, marker):
        for line in process.stdout:
            if "Ctrl-C stops everything" in line:
                break
        assert len(marked_processes(marker)) == 1 + VEHICLES + 1 + 2  # itself, vehicles, service, simulators
        process.kill()  # no chance to stop anything: each child hears of it from the kernel (setpriv --pdeathsig)
        process.wait()
    deadline = time.monotonic() + 20
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marked_processes(marker) == []


def _vehicle_pids(marker: str) -> list[int]:
    """The demo's vehicle processes (``agv_vehicle``, its environment carrying ``marker``)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"XBORDER_TEST_MARKER={marker}".encode() in (entry / "environ").read_bytes() \
                    and b"agv_vehicle" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


@pytest.mark.timeout(180)
def test_a_vehicle_killed_in_the_demo_is_said_and_the_demo_goes_on(tmp_path):
    """Found by hand (with ``xborder agents``, whose launcher did the same): one vehicle's process killed ended
    everything ("demo failed: a process ended"); a vehicle gone is one vehicle gone."""
    with demo(tmp_path / "var") as (process, marker):
        for line in process.stdout:
            if "Ctrl-C stops everything" in line:
                break
        killed = _vehicle_pids(marker)[0]
        os.kill(killed, signal.SIGKILL)
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "ended (killed by SIGKILL)" in line:
                break
        time.sleep(5)
        assert process.poll() is None, "".join(lines)
        assert len(_vehicle_pids(marker)) == VEHICLES - 1
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, "".join(lines) + rest
    assert "ended (killed by SIGKILL): the fleet manager takes it out, the others drive on" in "".join(lines), lines
