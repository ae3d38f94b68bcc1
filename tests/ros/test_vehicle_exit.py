"""A vehicle process asked to stop stops, even if leaving hangs (one of 20 vehicles in a CI run ignored its
SIGTERM for over 15 s): past the shutdown limit it writes every thread's stack to stderr and exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from agv_agent.vehicle_process import SHUTDOWN_LIMIT_S

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


def test_a_vehicle_process_whose_leaving_hangs_still_exits_with_the_evidence():
    process = subprocess.Popen([sys.executable, "-c", HANGS_WHEN_LEAVING], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "up"
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=SHUTDOWN_LIMIT_S + 20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert time.monotonic() - sent < SHUTDOWN_LIMIT_S + 20
    assert process.returncode == 1
    assert "shutdown still not done" in stderr and "in stop" in stderr, stderr[-2000:]
