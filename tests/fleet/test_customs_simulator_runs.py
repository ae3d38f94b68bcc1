"""``xborder customs simulate`` as a process against a real ``xborder serve``, at the edges found by hand."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.customs.checkpoints import checked_checkpoint, checkpoints_from_lines
from fleet.customs.signing import parse_public_key
from sim.customs_authority import app
from sim.service_process import ServiceProcess

BIN = Path(sys.executable).parent
NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")


@pytest.fixture
def service(tmp_path, key_dir):
    svc = ServiceProcess(tmp_path, {n: (key_dir / f"{n}.pub").read_text().strip() for n in NAMES},
                         curve_public_keys={n: (key_dir / f"{n}.curve.pub").read_text().strip() for n in NAMES},
                         checkpoint_every=2).start()
    yield svc
    svc.stop()


def audit_head(service: ServiceProcess) -> int:
    return service.get("/audit", limit=1)["head_seq"]


def simulate(service: ServiceProcess, key_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "xborder"), "customs", "simulate", "--authority", "VN_CUSTOMS",
                             "--key", str(key_dir / "VN_CUSTOMS.key"), *service.simulator_args(key_dir, "VN_CUSTOMS"),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_simulator_writes_the_checkpoints_it_was_sent(service, key_dir, tmp_path, signum):
    """Stopped before its stream ends (SIGTERM, Ctrl-C), it ends cleanly and ``--checkpoints`` holds the fleet's
    signed checkpoints it was sent: they were written only at the normal end, so a stopped simulator kept none."""
    kept = tmp_path / "kept.jsonl"
    # 5 vehicle authorizations and a heartbeat at once, then a heartbeat every 1/4 s; the declarations over 60 s
    run = simulate(service, key_dir, "--consignments", "5", "--vehicles", "5", "--time-scale", "60",
                   "--checkpoints", str(kept))
    try:
        deadline = time.monotonic() + 60
        while audit_head(service) < 8 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run.poll() is None, run.communicate()[0]
        run.send_signal(signum)
        output = run.communicate(timeout=30)[0]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0 and "Traceback" not in output, output
    assert f"stopped by {signal.Signals(signum).name}" in output, output
    key = parse_public_key(service.fleet_pub.read_text())
    seqs = [checked_checkpoint(c, [key])[0] for c in checkpoints_from_lines(kept.read_text().splitlines())]
    assert seqs and max(seqs) >= 6, seqs  # signed as the records came: 2, 4, 6, ...


def test_nothing_to_send_is_a_heartbeat_only_run(service, key_dir):
    """No consignments and no vehicles: the link's heartbeats and a clean end (it crashed on ``max()`` of an empty
    sequence)."""
    run = simulate(service, key_dir, "--consignments", "0", "--vehicles", "0", "--time-scale", "0")
    output = run.communicate(timeout=60)[0]
    assert run.returncode == 0 and "Traceback" not in output, output
    assert "2  accepted" in output, output


@pytest.mark.parametrize("option", ["--key", "--curve-key", "--server-key", "--fleet-key"])
@pytest.mark.parametrize("bad", ["missing", "directory", "garbage"])
def test_a_bad_key_file_is_a_usage_error_naming_it(key_dir, tmp_path, option, bad):
    """Found by hand: a key file that is not there (or not a key) was a traceback, before anything was sent."""
    path = {"missing": tmp_path / "nope.key", "directory": tmp_path, "garbage": tmp_path / "garbage.key"}[bad]
    (tmp_path / "garbage.key").write_text("not a key\n")
    files = {"--key": key_dir / "VN_CUSTOMS.key", "--curve-key": key_dir / "VN_CUSTOMS.curve.key",
             "--server-key": key_dir / "VN_CUSTOMS.curve.pub", "--fleet-key": key_dir / "VN_CUSTOMS.pub", option: path}
    result = CliRunner().invoke(app, ["--authority", "VN_CUSTOMS", "--connect", "tcp://127.0.0.1:9",
                                      *[word for pair in files.items() for word in (pair[0], str(pair[1]))]],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    assert f"Invalid value for {option}: {path}:" in result.stderr, result.stderr


def test_no_fleet_answering_is_a_message_and_the_checkpoints_file(key_dir, tmp_path):
    """Nobody at --connect: it gives up after --patience-s with one line saying so (it was a traceback), exit 1,
    and --checkpoints written (none were received)."""
    kept, handlers = tmp_path / "kept.jsonl", [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)]
    result = CliRunner().invoke(app, ["--authority", "VN_CUSTOMS", "--key", str(key_dir / "VN_CUSTOMS.key"),
                                      "--connect", "tcp://127.0.0.1:9", "--patience-s", "1", "--time-scale", "0",
                                      "--checkpoints", str(kept)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "no answer from tcp://127.0.0.1:9 after 1 tries" in result.output and kept.read_text() == ""
    assert [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)] == handlers  # its own are gone


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--connect", "localhost:5560", "Invalid value for --connect: localhost:5560"),
    ("--authority", "vn customs", "Invalid value for --authority: 'vn customs'"),
    ("--side", "Vietnam", "Invalid value for --side: 'Vietnam'"),
])
def test_a_bad_argument_is_a_usage_error_naming_it(key_dir, option, value, says):
    """Found by hand: an endpoint without its transport was a ZMQError traceback; an authority name the fleet cannot
    have (or a side that is not one) sent its whole stream, each event refused."""
    args = {"--authority": "VN_CUSTOMS", "--connect": "tcp://127.0.0.1:9", option: value}
    result = CliRunner().invoke(app, [*[word for pair in args.items() for word in pair], "--key",
                                      str(key_dir / "VN_CUSTOMS.key"), "--patience-s", "1", "--time-scale", "0"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    assert says in result.stderr, result.stderr
