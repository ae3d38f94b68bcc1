"""Fleet ROS bridge benchmark: state ingestion for 50 and 200 simulated vehicles, order->first-motion latency.

Vehicles' ``state`` topics are published by helper processes (state_flood.py, several vehicles per
process: 200 agent processes do not fit on 2 cores); the bridge runs in this process. Reported per fleet
size and state rate: the offered messages/s (as the publishers measured what they really sent), received
messages/s, the share received, and the CPU the bridge process used — beside a bare rclpy subscriber (no
conversion) measured the same way in the same run. Latency: a real
``agv_vehicle`` process, time from ``send_order`` to its state saying it drives.

    .venv/bin/python tests/bench/bench_ros_bridge.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("ROS_DOMAIN_ID", str(20 + os.getpid() % 80))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

import matplotlib
import rclpy
from agv_agent import qos
from agv_agent.protocol import Order, OrderEdge, OrderNode
from agv_interfaces.msg import AgvState
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fleet.vehicles.ros_bridge import RosFleetBridge
from sim.processes import tied_to_parent
from sim.ros_fleet import VehicleSpec, spawn_vehicle

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OUT = Path("out/bench")
FLOOD = Path(__file__).with_name("state_flood.py")
PER_PROCESS = 50
DISCOVERY_S = 40.0  # at most this long for every vehicle's state to reach the receiver before measuring


class BareCounter:
    """The baseline: an rclpy subscriber per vehicle that only counts messages."""

    def __init__(self, ids: list[str]) -> None:
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("bare_counter", context=self.context)
        self.received = 0
        self.seen: set[str] = set()
        for v in ids:
            self.node.create_subscription(AgvState, f"/xborder/{v}/state", self._count, qos.STATE)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _count(self, msg: AgvState) -> None:
        self.received += 1
        self.seen.add(msg.vehicle_id)

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def flood(count: int, rate: float, seconds: float) -> list[subprocess.Popen]:
    return [subprocess.Popen(tied_to_parent([sys.executable, str(FLOOD), str(first),
                                             str(min(PER_PROCESS, count - first)), str(rate), str(seconds)]),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for first in range(0, count, PER_PROCESS)]


def offered_rate(floods: list[subprocess.Popen]) -> float:
    """Messages/s the publisher processes really sent (each reports ``SENT <messages> <seconds>``)."""
    total = 0.0
    for process in floods:
        try:
            out, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        sent, seconds = out.split()[-2:]
        total += int(sent) / float(seconds)
    return total


def measure(count: int, rate: float, seconds: float, receiver: str, progress: Progress) -> dict[str, float]:
    ids = [f"agv_{i:04d}" for i in range(count)]
    if receiver == "bridge":
        bridge = RosFleetBridge(node_name=f"bench_bridge_{count}", heartbeat_s=3600)
        for v in ids:
            bridge.add_vehicle(v)
        read, spin, close, seen = (lambda: bridge.received), time.sleep, bridge.close, \
            (lambda: sum(bridge.state_age(v) is not None for v in ids))
    else:
        bare = BareCounter(ids)
        read, spin, close, seen = (lambda: bare.received), bare.spin_for, bare.close, (lambda: len(bare.seen))
    floods = flood(count, rate, DISCOVERY_S + seconds + 5)  # stopped (SIGTERM) once the window is over
    task = progress.add_task(f"{count} vehicles x {rate:g} Hz -> {receiver}", total=seconds)
    discovery_deadline = time.monotonic() + DISCOVERY_S
    while seen() < count and time.monotonic() < discovery_deadline:  # the window opens when all are matched
        spin(0.2)
    if seen() < count:
        raise TimeoutError(f"only {seen()} of {count} vehicles' states arrived within {DISCOVERY_S:.0f} s")
    before, cpu0, t0 = read(), time.process_time(), time.monotonic()
    spin(seconds)
    received, cpu, elapsed = read() - before, time.process_time() - cpu0, time.monotonic() - t0
    progress.advance(task, seconds)
    for process in floods:
        process.terminate()
    offered = offered_rate(floods)
    close()
    return {"offered": offered, "received": received / elapsed, "cpu": cpu / elapsed}


def first_motion_latency(samples: int, progress: Progress) -> list[float]:
    vehicle = "agv_latency"
    process = spawn_vehicle(VehicleSpec(vehicle, 0.0, 0.0, 0.0, "a"))
    bridge = RosFleetBridge(node_name="bench_latency")
    try:
        bridge.add_vehicle(vehicle)
        if not bridge.wait_for(lambda: bridge.subscribers(vehicle) > 0 and bridge.state(vehicle) is not None, 30):
            raise TimeoutError("the vehicle did not come up")
        out = []
        task = progress.add_task("order -> first motion", total=samples)
        here, there = ("a", 0.0), ("b", 6.0)
        for k in range(samples):
            (start, x0), (goal, x1) = (here, there) if k % 2 == 0 else (there, here)
            nodes = (OrderNode(start, 0, True, x0, 0.0), OrderNode(goal, 2, True, x1, 0.0))
            order = Order(f"o{k}", 0, nodes, (OrderEdge(f"e{k}", 1, True, start, goal, 3.0),))
            t0 = time.perf_counter()
            bridge.send_order(vehicle, order)
            if not bridge.wait_for(lambda o=order: bridge.state(vehicle).order_id == o.order_id
                                   and bridge.state(vehicle).driving, 20, poll_s=0.002):
                raise TimeoutError(f"no motion for order {k}: {bridge.state(vehicle).errors}")
            out.append((time.perf_counter() - t0) * 1000)
            if not bridge.wait_for(lambda g=goal: bridge.state(vehicle).last_node_id == g
                                   and not bridge.state(vehicle).driving, 60):
                raise TimeoutError(f"order {k} did not complete")
            progress.advance(task)
        return out
    finally:
        bridge.close()
        process.terminate()
        process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes, rates, seconds, samples = ([10], [2.0], 3.0, 2) if args.quick else ([50, 200], [2.0, 10.0], 10.0, 10)
    console = Console()
    rows = {}
    with Progress(console=console) as progress:
        for count, rate, receiver in itertools.product(sizes, rates, ("bare", "bridge")):
            rows[(count, rate, receiver)] = measure(count, rate, seconds, receiver, progress)
        latency = first_motion_latency(samples, progress)
    report(rows, latency, console)


def report(rows: dict[tuple[int, float, str], dict[str, float]], latency: list[float], console: Console) -> None:
    table = Table(title="fleet ROS bridge: state ingestion")
    for column in ("vehicles", "state rate Hz", "offered msg/s", "bridge msg/s", "received", "bridge CPU",
                   "bare subscriber msg/s", "bare CPU"):
        table.add_column(column)
    lines = ["| " + " | ".join(str(c.header) for c in table.columns) + " |", "|" + "---|" * len(table.columns)]
    cases = sorted({(count, rate) for count, rate, _ in rows})
    for count, rate in cases:
        b, bare = rows[(count, rate, "bridge")], rows[(count, rate, "bare")]
        row = [str(count), f"{rate:g}", f"{b['offered']:.0f}", f"{b['received']:.0f}",
               f"{b['received'] / b['offered']:.0%}", f"{b['cpu']:.0%}", f"{bare['received']:.0f}",
               f"{bare['cpu']:.0%}"]
        table.add_row(*row)
        lines.append("| " + " | ".join(row) + " |")
    console.print(table)
    p50 = statistics.median(latency)
    summary = f"order -> first motion (real agv_vehicle over DDS, {len(latency)} orders): p50 {p50:.0f} ms, " \
              f"max {max(latency):.0f} ms"
    console.print(summary)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ros_bridge.md").write_text(f"# {table.title}\n\n" + "\n".join(lines) + f"\n\n{summary}\n")
    fig, (rate_ax, cpu_ax) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    offered = [rows[(c, r, "bridge")]["offered"] for c, r in cases]
    rate_ax.plot([0, max(offered)], [0, max(offered)], "k--", label="all offered")
    for receiver, marker in (("bridge", "o"), ("bare", "s")):
        rate_ax.plot(offered, [rows[(c, r, receiver)]["received"] for c, r in cases], marker, label=receiver)
        cpu_ax.plot(offered, [100 * rows[(c, r, receiver)]["cpu"] for c, r in cases], marker + "-", label=receiver)
    rate_ax.set(xlabel="offered state messages / s", ylabel="received messages / s", title="state ingestion")
    cpu_ax.set(xlabel="offered state messages / s", ylabel="receiving process CPU, % of one core", title="CPU")
    for ax in (rate_ax, cpu_ax):
        ax.legend()
    fig.savefig(OUT / "ros_bridge.png", dpi=110)
    console.print(f"wrote {OUT / 'ros_bridge.md'} and {OUT / 'ros_bridge.png'}")


if __name__ == "__main__":
    main()
