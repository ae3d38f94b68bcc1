"""A process asked to stop, as the tests of the stop watchdogs run it (a vehicle process, the service's server)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import NamedTuple


class Stopped(NamedTuple):
    returncode: int
    took_s: float  # from the signal to the process's end
    stderr: str


def stop_when_up(program: str, *args: str, timeout_s: float) -> Stopped:
    """Run ``program`` (``python -c``) with ``args``, wait for it to print "up", send it SIGTERM and wait for it
    to end; killed (and the test failed by the timeout) if it outlives ``timeout_s`` from the signal."""
    process = subprocess.Popen([sys.executable, "-c", program, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "up"
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Stopped(process.returncode, time.monotonic() - sent, stderr)
