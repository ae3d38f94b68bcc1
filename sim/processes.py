"""Child processes that cannot outlive what started them: each in a process group of its own (so a Ctrl-C in the
terminal reaches only the launcher, which then stops them in order, and stopping one stops whatever it started)
and tied to the launcher's life (``setpriv --pdeathsig``: a launcher killed outright still takes them along)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import ExitStack
from typing import Any


def tied_to_parent(command: list[str]) -> list[str]:
    """``command`` wrapped so that it gets SIGTERM when the process that started it dies (Linux: util-linux's
    ``setpriv``): no simulated vehicle outlives a killed launcher, test run or benchmark."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", *command] if setpriv else command


def free_port(consecutive: int = 1) -> int:
    """A TCP port P on 127.0.0.1 that was free a moment ago, and the ``consecutive - 1`` ports after it too (the
    demo's customs ROUTER takes P and its PUB P + 1: a P + 1 nobody checked was found taken in CI)."""
    for _ in range(100):
        with ExitStack() as held:
            first = held.enter_context(socket.socket())
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            try:
                for k in range(1, consecutive):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port + k))
            except (OSError, OverflowError):
                continue
            return port
    raise OSError(f"no {consecutive} free TCP ports in a row on 127.0.0.1")


def spawn(command: list[str], **popen: Any) -> subprocess.Popen:
    """Start ``command`` in a new process group, tied to this process."""
    return subprocess.Popen(tied_to_parent(command), start_new_session=True, **popen)


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to ``process``'s group (itself and anything it started), if it still runs."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass


def stop(process: subprocess.Popen, signum: int = signal.SIGTERM, grace_s: float = 10.0) -> int:
    """Ask ``process``'s group to stop with ``signum``; SIGKILL it after ``grace_s``. Returns the exit code."""
    stop_all([process], signum, grace_s)
    return process.returncode


def stop_all(processes: list[subprocess.Popen], signum: int = signal.SIGTERM, grace_s: float = 10.0) -> None:
    """:func:`stop` for many at once: all are asked first, then waited for, within one grace period for all."""
    for process in processes:
        signal_group(process, signum if grace_s > 0 else signal.SIGKILL)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait()
        try:  # whatever the leader started and left behind in its group (its pid was only just reaped)
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def marked_processes(marker: str) -> list[str]:
    """Command lines of the running processes whose environment carries ``XBORDER_TEST_MARKER=marker``: what a
    test's launcher started, to show that none outlives it."""
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"XBORDER_TEST_MARKER={marker}".encode() in (entry / "environ").read_bytes():
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            pass
    return found
