"""VDA 5050 MQTT link benchmark: 200 vehicles' states at 2 Hz through a real mosquitto, beside the DDS bridge.

Helper processes (mqtt_flood.py, 50 vehicles each) publish VDA 5050 2.1 state JSON; the fleet's MqttVehicleLink
runs in this process. Reported per receiver: offered messages/s (as the publishers measured), received
messages/s, the share received, the receiving process's CPU and the broker's CPU — beside a bare paho subscriber
(no parsing) and, in the same run, the ROS 2 bridge at the same load (bench_ros_bridge.measure), so the
figures compare on the same (shared, noisy) machine.

    .venv/bin/python tests/bench/bench_mqtt_link.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import paho.mqtt.client as mqtt
from bench_ros_bridge import measure as measure_dds
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fleet.vehicles.mqtt_link import MqttVehicleLink
from sim.mqtt_broker import Broker
from sim.processes import tied_to_parent

OUT = Path("out/bench")
FLOOD = Path(__file__).with_name("mqtt_flood.py")
PER_PROCESS = 50
CLK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


class BareCounter:
    def __init__(self, port: int) -> None:
        self.received, self.seen, self.lock = 0, set(), threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda client, *_: client.subscribe("uagv/v2/+/+/state")
        self.client.on_message = self._count
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _count(self, _client, _userdata, message) -> None:
        with self.lock:
            self.received += 1
            self.seen.add(message.topic)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def measure_mqtt(broker: Broker, count: int, rate: float, seconds: float, receiver: str,
                 progress: Progress) -> dict[str, float]:
    ids = [f"agv_{i:04d}" for i in range(count)]
    if receiver == "link":
        link = MqttVehicleLink(port=broker.port)
        read, close = (lambda: link.received), link.close
        seen = lambda: sum(link.state_age(v) is not None for v in ids)  # noqa: E731
    else:
        bare = BareCounter(broker.port)
        read, seen, close = (lambda: bare.received), (lambda: len(bare.seen)), bare.close
    floods = [subprocess.Popen(tied_to_parent([sys.executable, str(FLOOD), str(broker.port), str(first),
                                               str(min(PER_PROCESS, count - first)), str(rate), str(seconds + 15)]),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
              for first in range(0, count, PER_PROCESS)]
    task = progress.add_task(f"{count} vehicles x {rate:g} Hz -> MQTT {receiver}", total=seconds)
    deadline = time.monotonic() + 10
    while seen() < count and time.monotonic() < deadline:
        time.sleep(0.1)
    if seen() < count:
        raise TimeoutError(f"only {seen()} of {count} vehicles' states arrived")
    before, cpu0, broker0, t0 = read(), time.process_time(), process_cpu_s(broker.process.pid), time.monotonic()
    time.sleep(seconds)
    received, elapsed = read() - before, time.monotonic() - t0
    cpu, broker_cpu = time.process_time() - cpu0, process_cpu_s(broker.process.pid) - broker0
    progress.advance(task, seconds)
    offered = 0.0
    for process in floods:
        process.terminate()
        out, _ = process.communicate(timeout=60)
        sent, secs = out.split()[-2:]
        offered += int(sent) / float(secs)
    close()
    return {"offered": offered, "received": received / elapsed, "cpu": cpu / elapsed, "broker": broker_cpu / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, rate, seconds = (20, 2.0, 3.0) if args.quick else (200, 2.0, 10.0)
    console = Console()
    rows: dict[str, dict[str, float]] = {}
    with Progress(console=console) as progress, Broker() as broker:
        for receiver in ("bare", "link"):
            rows[f"MQTT {receiver}"] = measure_mqtt(broker, count, rate, seconds, receiver, progress)
        for receiver in ("bare", "bridge"):
            rows[f"DDS {receiver}"] = measure_dds(count, rate, seconds, receiver, progress)
    table = Table(title=f"vehicle links: {count} vehicles' states at {rate:g} Hz")
    for column in ("receiver", "offered msg/s", "received msg/s", "received", "receiver CPU", "broker CPU",
                   "receiver CPU vs its bare subscriber"):
        table.add_column(column)
    lines = ["| " + " | ".join(str(c.header) for c in table.columns) + " |", "|" + "---|" * len(table.columns)]
    for name, r in rows.items():
        bare = rows[name.split()[0] + " bare"]
        row = [name, f"{r['offered']:.0f}", f"{r['received']:.0f}", f"{r['received'] / r['offered']:.0%}",
               f"{r['cpu']:.1%}", f"{r['broker']:.1%}" if "broker" in r else "-",
               f"{r['cpu'] / bare['cpu']:.1f}x" if bare["cpu"] > 0 else "-"]
        table.add_row(*row)
        lines.append("| " + " | ".join(row) + " |")
    console.print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "mqtt_link.md").write_text(f"# {table.title}\n\n" + "\n".join(lines) + "\n")
    console.print(f"wrote {OUT / 'mqtt_link.md'}")


if __name__ == "__main__":
    main()
