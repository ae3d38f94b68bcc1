"""A vehicle process asked to stop stops, even if leaving hangs (one of 20 vehicles in a CI run ignored its
SIGTERM for over 15 s): past the shutdown limit it writes every thread's stack to stderr and exits."""

from __future__ import annotations

import pytest
from agv_agent.vehicle_process import HARD_EXIT_AFTER_S, SHUTDOWN_LIMIT_S

from tests.stopping import stop_when_up

pytestmark = [pytest.mark.slow, pytest.mark.ros]

HANGS_WHEN_LEAVING = """
import sys, time
from rclpy.node import Node
from agv_agent.vehicle_process import spin_nodes

class HangsWhenLeaving(Node):
    def __init__(self):
        super().__init__("hangs_when_leaving")
        print("up", flush=True)

    def stop(self):
        time.sleep(3600)

spin_nodes([], [HangsWhenLeaving])
"""


#: leaving stuck in C, holding the interpreter: a regular expression's catastrophic backtracking (CPython's
#: engine never lets go of the GIL), so no Python thread runs again
HANGS_IN_C_WHEN_LEAVING = HANGS_WHEN_LEAVING.replace("time.sleep(3600)",
                                                     'import re; re.match(r"(a+)+$", "a" * 64 + "b")')


@pytest.mark.parametrize("program", [HANGS_WHEN_LEAVING, HANGS_IN_C_WHEN_LEAVING], ids=["in_python", "in_c"])
def test_a_vehicle_process_whose_leaving_hangs_still_exits_with_the_evidence(program):
    stopped = stop_when_up(program, timeout_s=SHUTDOWN_LIMIT_S + 20)
    assert stopped.took_s < SHUTDOWN_LIMIT_S + 20
    assert stopped.returncode == 1
    hard_exit = f"Timeout (0:00:{SHUTDOWN_LIMIT_S + HARD_EXIT_AFTER_S:.0f})!"  # faulthandler's words
    said = "shutdown still not done" if program == HANGS_WHEN_LEAVING else hard_exit
    assert said in stopped.stderr and "in stop" in stopped.stderr, stopped.stderr[-2000:]
