"""``xborder serve`` ends within ``server.stop_limit_s`` of SIGTERM even when stopping hangs in C with the
interpreter held (the way a ROS node's destruction deadlocked in Fast DDS in a vehicle process): its threads'
stacks on stderr, exit code 1. A stop that does not hang ends as before, at once. A real process, a real signal."""

from __future__ import annotations

import signal

import pytest

from tests.stopping import stop_when_up

STOP_LIMIT_S = 2.0

PROGRAM = """
import re, sys
import uvicorn
from fleet.api.server import StoppingServer

HANG = sys.argv[1] == "hang"

async def app(scope, receive, send):  # a lifespan whose shutdown (the services' close) may hang
    assert scope["type"] == "lifespan"
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            print("up", flush=True)
        elif message["type"] == "lifespan.shutdown":
            if HANG:  # catastrophic backtracking: CPython's regex engine never lets go of the GIL
                re.match(r"(a+)+$", "a" * 64 + "b")
            await send({"type": "lifespan.shutdown.complete"})
            return

StoppingServer(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="error"),
               stop_limit_s=float(sys.argv[2])).run()
"""


@pytest.mark.parametrize("stopping", ["hang", "clean"])
def test_a_stop_that_hangs_in_c_still_ends_the_process_within_the_limit(stopping):
    limit_s = STOP_LIMIT_S if stopping == "hang" else 60.0  # a clean stop on a loaded machine may take seconds
    stopped = stop_when_up(PROGRAM, stopping, str(limit_s), timeout_s=limit_s + 30)
    if stopping == "hang":
        assert stopped.returncode == 1 and STOP_LIMIT_S - 0.5 < stopped.took_s < STOP_LIMIT_S + 30, stopped[:2]
        assert "Timeout (0:00:02)!" in stopped.stderr and "in app" in stopped.stderr, stopped.stderr[-2000:]  # named
    else:
        # uvicorn raises the signal it caught again once it has stopped: the end of a process the signal ended
        assert stopped.returncode == -signal.SIGTERM and stopped.took_s < limit_s, stopped
