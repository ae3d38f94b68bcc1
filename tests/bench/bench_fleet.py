"""Fleet manager benchmark: ``xborder serve`` with 200 vehicles over DDS and 2,000 queued orders.

Real parts: the service process (``xborder serve``: API, customs gate on ZeroMQ, dispatch loop, ROS bridge), the
vehicles' topics over DDS, both customs authorities over ZeroMQ (signed events). The vehicles are emulated
(vehicle_emulator.py, 50 per process): each publishes its state at 2 Hz and, on an order (update), reports itself
at the order's last released node a moment later, so the fleet runs through its plans quickly and the dispatch
loop does real work (assignment, planning, releases, gate waits). Both authorities authorize every vehicle and
release no consignment of their own accord: loaded vehicles queue at the gates (awaiting clearance) and the
benchmark releases waiting consignments one at a time.

Measured, in one run:
- dispatch tick p50/p99 (the service's ``xborder_dispatch_tick_duration_seconds`` histogram, differenced over each
  window), with the orders, against the same fleet idle (no orders) before them;
- clearance -> order update: from the deciding ``released`` event (the second authority's) to the order update
  that extends the vehicle's base past its gate, as received on the vehicle's ``order`` topic (the emulator
  stamps it; same host clock); from the event's send and from its ACK;
- API latency p50/p99 with N concurrent clients on GET /vehicles, /orders?limit=50, /gates, /orders/{id},
  against the same load on GET /health (the cheapest route), alternating, while the fleet works;
- peak RSS of the service (VmHWM), against its RSS with the fleet idle.
The service runs with read workers (``server.read_workers``: 2, the quick run 1); its CPU and RSS are its
processes' together. ``BENCH_READ_WORKERS=0`` runs it without them (the loop's process serves the API alone),
for a same-run baseline.

    .venv/bin/python tests/bench/bench_fleet.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

os.environ["ROS_DOMAIN_ID"] = str(200 + os.getpid() % 30)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

import httpx
import matplotlib
import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fleet.api.read_workers import NICENESS
from fleet.maps import load_corridor
from planner.corridor import NodeKind
from sim.processes import tied_to_parent
from sim.ros_fleet import parking_spots
from sim.service_process import ServiceProcess, token_for

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OUT = Path("out/bench")
MAP = Path(__file__).resolve().parents[2] / "maps" / "bac_luan_ii"
EMULATOR = Path(__file__).with_name("vehicle_emulator.py")
#: an emulated vehicle drives a release (reports itself at its end) this long after it received it
DRIVE_S = 0.2
AUTHORITIES = ("VN_CUSTOMS", "CN_CUSTOMS")
TICK_METRIC = "xborder_dispatch_tick_duration_seconds"
TICK_TOP = 10.0  # the tick histogram's last finite bucket (s)
MEMORY_LIMIT = 4 * 2**30  # the service is killed beyond this (the goal is 1.5 GiB)
GOALS = {"tick": 0.200, "clearance": 0.100, "api": 0.050, "rss": 1.5 * 2**30}
ROUTES = ("/vehicles", "/orders?limit=50", "/gates", "/orders/{id}")
#: the open-loop API load: each client a console asking this often, whenever its last answer came
CONSOLE_HZ = 2.0


@dataclass(frozen=True)
class Size:
    vehicles: int
    orders: int
    per_process: int
    idle_s: float  # the baseline window: the fleet up, no orders
    window_s: float  # the measured window with the orders
    api_slice_s: float  # API load: quiet, health, routes, quiet, health, routes, each this long
    clients: int
    ready_s: float  # at most this long for every vehicle to be seen ONLINE at its node
    read_workers: int  # the service's ``server.read_workers``: processes answering the read routes


FULL = Size(200, 2000, 50, idle_s=20, window_s=100, api_slice_s=10, clients=50, ready_s=120, read_workers=2)
QUICK = Size(10, 50, 10, idle_s=4, window_s=16, api_slice_s=2, clients=10, ready_s=40, read_workers=1)


def quantile(values: list[float] | np.ndarray, q: float) -> float:
    data = np.asarray(values, dtype=float)
    return float(np.quantile(data, q)) if data.size else float("nan")


# --- the service's metrics ----------------------------------------------------------------------------------------

def tick_buckets(service: ServiceProcess) -> dict[float, float]:
    """Cumulative tick histogram: upper bound (s) -> count."""
    text = httpx.get(service.base.removesuffix("/api/v1") + "/metrics", timeout=60).text
    out = {}
    for le, count in re.findall(TICK_METRIC + r'_bucket\{le="([^"]+)"\} ([0-9.e+]+)', text):
        out[float(le)] = float(count)
    return out


def order_states(service: ServiceProcess) -> dict[str, int]:
    text = httpx.get(service.base.removesuffix("/api/v1") + "/metrics", timeout=60).text
    return {s: int(float(c)) for s, c in re.findall(r'xborder_orders\{state="([a-z_]+)"\} ([0-9.e+]+)', text)}


@dataclass
class TickWindow:
    """Ticks between two histogram snapshots."""

    bounds: list[float]
    counts: list[float]  # per bucket (not cumulative)
    seconds: float

    @classmethod
    def between(cls, before: dict[float, float], after: dict[float, float], seconds: float) -> TickWindow:
        bounds = sorted(after)
        cumulative = [after[b] - before.get(b, 0.0) for b in bounds]
        counts = [c - p for c, p in zip(cumulative, [0.0, *cumulative[:-1]], strict=True)]
        return cls(bounds, counts, seconds)

    @property
    def total(self) -> float:
        return sum(self.counts)

    def quantile(self, q: float) -> float:
        """As Prometheus' histogram_quantile: linear within the bucket that holds the q-th tick."""
        rank, seen, lower = q * self.total, 0.0, 0.0
        if not self.total:
            return float("nan")
        for bound, count in zip(self.bounds, self.counts, strict=True):
            if seen + count >= rank and count:
                if bound == float("inf"):
                    return lower  # beyond the last finite bucket: its bound is all we know
                return lower + (bound - lower) * (rank - seen) / count
            seen += count
            lower = bound if bound != float("inf") else lower
        return lower


def watch_memory(process: subprocess.Popen, limit: int, stop: threading.Event, exceeded: list[int]) -> None:
    """Kill the service if its RSS passes ``limit`` (a runaway must not take a shared machine's memory)."""
    while not stop.wait(0.5) and process.poll() is None:
        try:
            rss = peak_rss(process.pid)[1]
        except (OSError, KeyError):
            return
        if rss > limit:
            exceeded.append(rss)
            process.kill()
            return


def with_workers(pid: int) -> list[int]:
    """The service's process and its children (its read workers, ``server.read_workers``)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
    return [pid, *children]


def cpu_wait_seconds(pid: int) -> float:
    """Seconds the threads of the service's processes have spent runnable but waiting for a CPU (``schedstat``):
    the machine's share of a latency, which no change to the service can take away."""
    total = 0
    for process in with_workers(pid):
        for task in Path(f"/proc/{process}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):  # a thread that ended meanwhile
                continue
    return total / 1e9


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the service's processes have used so far."""
    total = 0
    for process in with_workers(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):  # a worker that ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss(pid: int) -> tuple[int, int]:
    """(VmHWM, VmRSS) of the service's processes, summed, bytes."""
    peak = now = 0
    for process in with_workers(pid):
        try:
            text = Path(f"/proc/{process}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        peak, now = peak + int(fields["VmHWM"].split()[0]) * 1024, now + int(fields["VmRSS"].split()[0]) * 1024
    return peak, now


# --- customs authorities --------------------------------------------------------------------------------------------

class Customs:
    """Both authorities' keys and ZeroMQ links. Uses CURVE and signed replies when the service helper offers
    them (``ServiceProcess.authority_link``), plain DEALERs otherwise."""

    def __init__(self, folder: Path) -> None:
        from fleet.customs.signing import EventSigner, generate_keys, load_private_key

        self.folder = folder
        for name in AUTHORITIES:
            generate_keys(name, folder)
        self.curve = "curve_public_keys" in inspect.signature(ServiceProcess.__init__).parameters \
            and hasattr(ServiceProcess, "authority_link")
        self.curve_public: dict[str, str] = {}
        if self.curve:
            from fleet.transports.curve import generate_curve_keys

            for name in AUTHORITIES:
                _, public = generate_curve_keys(name, folder)
                self.curve_public[name] = Path(public).read_text().strip()
        self.signers = {name: EventSigner(name, load_private_key(folder / f"{name}.key")) for name in AUTHORITIES}
        self.links: dict[str, Any] = {}

    def service_options(self) -> dict[str, Any]:
        public = {name: (self.folder / f"{name}.pub").read_text().strip() for name in AUTHORITIES}
        return {"public_keys": public, **({"curve_public_keys": self.curve_public} if self.curve else {})}

    def connect(self, service: ServiceProcess) -> None:
        from sim.customs_authority import AuthorityLink

        for name in AUTHORITIES:
            self.links[name] = service.authority_link(self.folder, name) if self.curve \
                else AuthorityLink(service.router)

    def send(self, name: str, kind: str, consignment: str | None = None, vehicle: str | None = None,
             direction: str | None = None) -> float:
        """Send one event and wait for its ACK; the time the ACK came (time.time())."""
        reply = self.links[name].send(self.signers[name].event(kind, consignment, vehicle_id=vehicle,
                                                               direction=direction))
        if reply.get("status") != "ACK":
            raise RuntimeError(f"{name} {kind} refused: {reply}")
        return time.time()

    def close(self) -> None:
        for link in self.links.values():
            link.close()


# --- emulated vehicles ---------------------------------------------------------------------------------------------

class Emulators:
    """The emulator processes, and every order message they saw (their stdout, read as it comes)."""

    def __init__(self, specs: list[dict[str, Any]], per_process: int, folder: Path) -> None:
        self.records: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.changed = threading.Condition()
        self.processes: list[subprocess.Popen] = []
        for first in range(0, len(specs), per_process):
            path = folder / f"emulated_{first}.json"
            path.write_text(json.dumps(specs[first:first + per_process]))
            command = [sys.executable, str(EMULATOR), str(path), "--delay", str(DRIVE_S)]
            process = subprocess.Popen(tied_to_parent(command), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       text=True)
            self.processes.append(process)
            threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            with self.changed:
                self.records[record["v"]].append(record)
                self.changed.notify_all()

    def wait_update(self, vehicle: str, since: float, predicate, timeout_s: float) -> dict[str, Any] | None:
        """The first order message to ``vehicle`` received after ``since`` that ``predicate`` accepts."""
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while True:
                found = next((r for r in self.records[vehicle] if r["t"] >= since and predicate(r)), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self.changed.wait(left)

    def released_onto(self, nodes: set[str], since: float, until: float, but: str) -> str | None:
        """A vehicle other than ``but`` that received, between ``since`` and ``until``, a release onto one of
        ``nodes`` (not counting the node its release starts from, where it stands); None if none did."""
        with self.changed:
            return next((v for v, records in self.records.items() if v != but for r in records
                         if since < r["t"] <= until and nodes & set(r["released"][1:])), None)

    def updates(self, vehicle: str, since: float, until: float) -> list[dict[str, Any]]:
        with self.changed:
            return [r for r in self.records[vehicle] if since <= r["t"] <= until]

    @property
    def messages(self) -> int:
        with self.changed:
            return sum(len(r) for r in self.records.values())

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


# --- the benchmark -------------------------------------------------------------------------------------------------

def headers(role: str = "viewer") -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(role)}"}


#: service log lines counted over the run (the dispatcher's, see fleet/dispatch/loop.py): what they say -> shown as
LOG_COUNTED = {"planning the whole fleet again": "full plans of the fleet begun",
               "full plan given up": "given up for a clearance"}


#: the dispatcher's line for a vehicle cleared at its gate whose replan past it stalled (its way on taken)
WAY_TAKEN = re.compile(r"(\S+) cleared at its gate, its way on taken for now: (.*)$")


def drain(process: subprocess.Popen, tail: list[str], counted: Counter[str],
          way_taken: list[tuple[float, str, str]]) -> None:
    """Read the service's output (an unread pipe would fill and block it), keeping the last lines, counting those
    ``LOG_COUNTED`` names, noting when each ``WAY_TAKEN`` line came (time, vehicle, why), and all of it in the
    file ``BENCH_SERVICE_LOG`` names, if set (e.g. the loop's slow-tick lines, which say where the time went)."""
    path = os.environ.get("BENCH_SERVICE_LOG")
    with open(path, "w") if path else contextlib.nullcontext() as copy:
        for raw in process.stdout:
            tail.append(raw.decode(errors="replace").rstrip())
            del tail[:-200]
            counted.update(what for what in LOG_COUNTED if what in tail[-1])
            taken = WAY_TAKEN.search(tail[-1])
            if taken:
                way_taken.append((time.time(), taken[1], taken[2]))
            if copy is not None:
                copy.write(tail[-1] + "\n")


def wait_ready(service: ServiceProcess, count: int, timeout_s: float) -> float:
    started = time.monotonic()
    deadline = started + timeout_s
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen = service.get("/vehicles")
        if len(seen) == count and all(v["connection"] == "ONLINE" and v["last_node"] for v in seen):
            return time.monotonic() - started
        time.sleep(0.5)
    up = sum(v["connection"] == "ONLINE" and bool(v["last_node"]) for v in seen)
    raise TimeoutError(f"only {up} of {count} vehicles ONLINE at their nodes after {timeout_s:.0f} s")


def post_orders(service: ServiceProcess, count: int, corridor, run: int) -> tuple[list[str], float]:
    """``count`` orders, half each way, one consignment each, pickup and drop docks on opposite sides."""
    docks = {side: sorted(n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction=side))
             for side in corridor.jurisdictions}
    sides = list(corridor.jurisdictions)
    bodies = []
    for i in range(count):
        here, there = (sides[0], sides[1]) if i % 2 == 0 else (sides[1], sides[0])
        bodies.append({"consignments": [f"{here}-B{run:04d}{i:07d}"], "pickup": docks[here][i % len(docks[here])],
                       "drop": docks[there][(i // 2) % len(docks[there])]})
    local = threading.local()

    def post(body: dict[str, Any]) -> str:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=service.base, headers=headers("dispatcher"), timeout=60)
        reply = local.client.post("/orders", json=body, headers={"Idempotency-Key": body["consignments"][0]})
        if reply.status_code not in (200, 201):
            raise RuntimeError(f"order refused: {reply.status_code} {reply.text}")
        return reply.json()["id"]

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(post, bodies))
    return ids, time.monotonic() - started


@dataclass
class Clearance:
    """One release of a waiting vehicle's consignments: when the deciding event was sent and ACKed, when the
    vehicle's next order update came (the replan that ends its wait) and when the update that releases its base
    past the gate came (None: not within 10 s: the precedence of the plans held it back); ``stalled``: just
    after that replan, the vehicle still stood at its gate with nothing released past it and its replan had
    stalled: the service's reason (its way or its drop dock taken: a wait for traffic, not for the service);
    None if it was released on."""

    vehicle: str
    gate: str
    sent: float
    ack: float
    first_update: float | None
    past_gate: float | None
    stalled: str | None = None
    #: a vehicle released over the nodes past this gate less than DRIVE_S before the event, so not yet on its way
    #: when the event came: this vehicle's release past its gate waits for it to move on (traffic), if any
    behind: str | None = None
    #: the order messages the vehicle received from the event on, up to the one past its gate (BENCH_DEBUG's dump)
    updates: list[dict[str, Any]] = field(default_factory=list)


def release_waiting(service: ServiceProcess, customs: Customs, emulators: Emulators, until: float,
                    samples: list[Clearance], misses: list[str], stop: threading.Event) -> None:
    """Release waiting vehicles' consignments one at a time (VN's event, then CN's, which decides) and time the
    order update past the gate on the vehicle's topic."""
    client = httpx.Client(base_url=service.base, headers=headers(), timeout=30)
    released: set[str] = set()
    while time.time() < until and not stop.is_set():
        try:
            gates = client.get("/gates").json()
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        waiting = [(g["id"], w) for g in gates for w in g["queue"]  # at the gate (not past it, short of the bridge)
                   if w["at"] == g["id"] and w["consignments"] and not set(w["consignments"]) & released]
        if not waiting:
            time.sleep(0.2)
            continue
        gate, entry = waiting[0]
        vehicle, direction = entry["vehicle_id"], entry["direction"]
        for consignment in entry["consignments"]:
            released.add(consignment)
            customs.send(AUTHORITIES[0], "released", consignment, direction=direction)
        deciding_sent = time.time()
        for consignment in entry["consignments"]:
            ack = customs.send(AUTHORITIES[1], "released", consignment, direction=direction)
        first = emulators.wait_update(vehicle, deciding_sent, lambda r: True, timeout_s=10.0)
        time.sleep(0.3)  # the tick that sent it is over: the vehicle's view says whether its replan stalled
        stalled = _held_at_the_gate(client, vehicle, gate)
        past = emulators.wait_update(vehicle, deciding_sent, lambda r, g=gate: g in r["released"]
                                     and r["base_end"] != g, timeout_s=10.0)
        if first is None or past is None:
            misses.append(vehicle)
        ahead = None if past is None else emulators.released_onto(set(past["released"]) - {gate},
                                                                   deciding_sent - DRIVE_S, deciding_sent, vehicle)
        samples.append(Clearance(vehicle, gate, deciding_sent, ack, first["t"] if first else None,
                                 past["t"] if past else None, stalled,
                                 behind=ahead, updates=emulators.updates(vehicle, deciding_sent,
                                                                         past["t"] if past else time.time())))
    client.close()


def held_by_traffic(samples: list[Clearance], way_taken: list[tuple[float, str, str]]) -> None:
    """Mark the clearances whose replan past the gate stalled, as the service's log said (``WAY_TAKEN``), where
    the vehicle's view 0.3 s on did not show it yet (the views reach the read workers every 0.2 s, later under
    load): a wait for traffic, as those the view showed."""
    for sample in (s for s in samples if s.stalled is None):
        end = sample.past_gate if sample.past_gate is not None else sample.sent + 10.0
        sample.stalled = next((why for when, vehicle, why in way_taken
                               if vehicle == sample.vehicle and sample.sent <= when <= end), None)


def _held_at_the_gate(client: httpx.Client, vehicle: str, gate: str) -> str | None:
    """Why the vehicle still stands at its gate with nothing released past it, if its replan stalled (the
    service's ``stalled_because``); None if it was released on (or its replan did not stall)."""
    try:
        view = client.get(f"/vehicles/{vehicle}").json()
    except httpx.HTTPError:
        return None
    held = view.get("last_node") == gate and gate not in view.get("released_nodes", [])[:-1]
    return view.get("stalled_because") if held else None


#: wrk's script: each connection asks for the next of PATHS; at the end, the requests answered, those failed, and
#: the latency (s) at every 0.1 % of the distribution
WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d\\n", summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
  local q = {}
  for k = 1, 999 do q[k] = string.format("%%.6f", latency:percentile(k / 10) / 1e6) end
  io.write("WRK_QUANTILES " .. table.concat(q, " ") .. "\\n")
end
"""


@dataclass
class ClosedLoop:
    """A closed-loop slice: the latency at every 0.1 % of its distribution (s), requests answered and failed."""

    quantiles: list[float]
    answered: int
    failed: int


def api_load(base: str, paths: list[str], clients: int, seconds: float, folder: Path) -> ClosedLoop:
    """``clients`` concurrent connections, each requesting the next of ``paths`` as soon as its last answer came,
    for ``seconds``, driven by wrk (C, two threads): a Python client on these 2 cores measured itself more than
    the service (docs/operations.md)."""
    script = folder / "wrk_paths.lua"
    prefix = urlsplit(base).path
    script.write_text(WRK_SCRIPT % ", ".join(json.dumps(prefix + p) for p in paths))
    origin = base.removesuffix(prefix)
    # wrk runs at the read workers' niceness: the clients stand for consoles on other machines, and on these 2
    # cores a load generator at niceness 0 outweighed each worker nine to one (docs/operations.md)
    done = subprocess.run(["nice", "-n", str(NICENESS), "wrk", "-t2", f"-c{clients}", f"-d{seconds:.0f}s",
                           "--timeout", "30s", "-s", str(script),
                           "-H", f"Authorization: Bearer {token_for('viewer')}", origin + "/"],
                          capture_output=True, text=True, timeout=seconds + 60, check=True)
    counts = re.search(r"^WRK (\d+) (\d+) (\d+)$", done.stdout, re.M)
    quantiles = re.search(r"^WRK_QUANTILES (.+)$", done.stdout, re.M)
    if counts is None or quantiles is None:
        raise RuntimeError(f"wrk said nothing usable: {done.stdout[-500:]} {done.stderr[-500:]}")
    requests, not_ok, dropped = (int(g) for g in counts.groups())  # not_ok: answered, but not 2xx
    return ClosedLoop([float(v) for v in quantiles.group(1).split()], requests - not_ok, not_ok + dropped)


async def api_polling(base: str, paths: list[str], clients: int, per_client_hz: float, seconds: float
                      ) -> tuple[list[float], int]:
    """Open loop: ``clients`` consoles, each asking for the next of ``paths`` every 1/``per_client_hz`` s whether
    or not its last answer came (staggered). Each latency runs from the moment the request was due, so that a
    slow answer also counts against the requests queued behind it."""
    latencies: list[float] = []
    failed = 0
    period = 1.0 / per_client_hz
    limits = httpx.Limits(max_connections=4 * clients, max_keepalive_connections=4 * clients)
    async with httpx.AsyncClient(base_url=base, headers=headers(), timeout=30, limits=limits) as client:
        async def one(due: float, path: str) -> None:
            nonlocal failed
            try:
                reply = await client.get(path)
                failed += reply.status_code != 200
            except httpx.TransportError:
                failed += 1
            latencies.append(time.perf_counter() - due)

        started = time.perf_counter()
        schedule = sorted((started + (k / clients + i) * period, (i * clients + k) % len(paths))
                          for k in range(clients) for i in range(int(seconds * per_client_hz)))
        tasks = []
        for due, index in schedule:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(due, paths[index])))
        await asyncio.gather(*tasks)
    return latencies, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 vehicles, 50 orders, short windows (for CI)")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    if os.environ.get("BENCH_READ_WORKERS"):  # 0: the loop's process serves the API alone (the baseline)
        size = replace(size, read_workers=int(os.environ["BENCH_READ_WORKERS"]))
    if os.environ.get("BENCH_FLEET_SIZE"):  # "vehicles,orders": for looking into a problem at another size
        vehicles, orders = map(int, os.environ["BENCH_FLEET_SIZE"].split(","))
        size = replace(size, vehicles=vehicles, orders=orders)
    console = Console()
    corridor = load_corridor(MAP)
    specs = parking_spots(corridor, size.vehicles)
    fleet = {"link": "ros", "heartbeat_s": 1.0,
             "vehicles": [{"id": s.vehicle_id, "home": corridor.nodes[s.node_id].jurisdiction,
                           "start_node": s.node_id} for s in specs],
             "dispatch": {"load_s": 1.0, "unload_s": 1.0}}
    emulated = [{"id": s.vehicle_id, "node": s.node_id, "x": s.x, "y": s.y, "theta": s.theta} for s in specs]
    results: dict[str, Any] = {"size": size}
    with tempfile.TemporaryDirectory(prefix="bench_fleet_") as tmp, Progress(console=console) as progress:
        folder = Path(tmp)
        customs = Customs(folder / "keys")
        service = ServiceProcess(folder, link_timeout_s=3600.0, fleet=fleet, map_folder=MAP,
                                 server={"read_workers": size.read_workers}, **customs.service_options())
        emulators: Emulators | None = None
        stop = threading.Event()
        tail: list[str] = []
        counted: Counter[str] = Counter()
        way_taken: list[tuple[float, str, str]] = []
        results["log_counts"] = counted
        runaway: list[int] = []
        try:
            task = progress.add_task(f"start: xborder serve, {size.vehicles} emulated vehicles", total=None)
            emulators = Emulators(emulated, size.per_process, folder)
            service.start()
            threading.Thread(target=drain, args=(service.process, tail, counted, way_taken), daemon=True).start()
            threading.Thread(target=watch_memory, args=(service.process, MEMORY_LIMIT, stop, runaway),
                             daemon=True).start()
            results["ready_s"] = wait_ready(service, size.vehicles, size.ready_s)
            customs.connect(service)
            for name in AUTHORITIES:
                for s in specs:
                    customs.send(name, "vehicle.authorized", vehicle=s.vehicle_id)
            progress.update(task, total=1, completed=1)

            task = progress.add_task(f"baseline: idle fleet, {size.idle_s:.0f} s", total=size.idle_s)
            before, t0, cpu0 = tick_buckets(service), time.monotonic(), cpu_seconds(service.process.pid)
            while time.monotonic() - t0 < size.idle_s:
                time.sleep(0.5)
                progress.update(task, completed=min(size.idle_s, time.monotonic() - t0))
            results["idle"] = TickWindow.between(before, tick_buckets(service), time.monotonic() - t0)
            results["cpu_idle"] = (cpu_seconds(service.process.pid) - cpu0) / (time.monotonic() - t0)
            results["rss_idle"] = peak_rss(service.process.pid)[1]

            task = progress.add_task(f"post {size.orders} orders", total=None)
            ids, results["post_s"] = post_orders(service, size.orders, corridor, os.getpid() % 10000)
            progress.update(task, total=1, completed=1)

            task = progress.add_task(f"loaded window, {size.window_s:.0f} s", total=size.window_s)
            samples: list[Clearance] = []
            misses: list[str] = []
            before, t0, messages0 = tick_buckets(service), time.monotonic(), emulators.messages
            cpu0 = cpu_seconds(service.process.pid)
            releaser = threading.Thread(target=release_waiting, args=(service, customs, emulators,
                                                                      time.time() + size.window_s, samples, misses,
                                                                      stop), daemon=True)
            releaser.start()
            rng = random.Random(1)
            api: dict[str, list[float]] = {"quiet": [], "health": [], "routes": [], "polled": []}
            failed = {"quiet": 0, "health": 0, "routes": 0, "polled": 0}
            answered = {"health": 0, "routes": 0}  # closed loop (wrk): its latencies are quantiles, not requests
            # the service's CPU seconds and its threads' seconds runnable but waiting for a CPU, during each
            # kind's slices; "quiet": no API load, the fleet's own work (subtracted from the others per second)
            api_cpu = {"quiet": 0.0, "health": 0.0, "routes": 0.0, "polled": 0.0}
            api_wait = {"quiet": 0.0, "health": 0.0, "routes": 0.0, "polled": 0.0}
            for kind in ("quiet", "health", "routes", "quiet", "health", "routes", "polled", "polled"):
                paths = ["/health"] if kind == "health" else \
                    [p.format(id=rng.choice(ids)) for _ in range(50) for p in ROUTES]
                cpu_before, wait_before = cpu_seconds(service.process.pid), cpu_wait_seconds(service.process.pid)
                if kind == "quiet":
                    time.sleep(size.api_slice_s)
                    latencies, bad = [], 0
                elif kind == "polled":
                    latencies, bad = asyncio.run(api_polling(service.base, paths, size.clients, CONSOLE_HZ,
                                                             size.api_slice_s))
                else:
                    closed = api_load(service.base, paths, size.clients, size.api_slice_s, folder)
                    latencies, bad = closed.quantiles, closed.failed  # two slices alike: their quantiles pooled
                    answered[kind] += closed.answered
                api_cpu[kind] += cpu_seconds(service.process.pid) - cpu_before
                api_wait[kind] += cpu_wait_seconds(service.process.pid) - wait_before
                api[kind] += latencies
                failed[kind] += bad
                progress.update(task, completed=min(size.window_s, time.monotonic() - t0))
            while time.monotonic() - t0 < size.window_s:
                time.sleep(0.5)
                progress.update(task, completed=min(size.window_s, time.monotonic() - t0))
            releaser.join(timeout=15)
            held_by_traffic(samples, way_taken)
            results["loaded"] = TickWindow.between(before, tick_buckets(service), time.monotonic() - t0)
            results["cpu_loaded"] = (cpu_seconds(service.process.pid) - cpu0) / (time.monotonic() - t0)
            results["load"] = os.getloadavg()[0]
            results["order_messages_per_s"] = (emulators.messages - messages0) / (time.monotonic() - t0)
            results["clearance"], results["misses"] = samples, misses
            results["api"], results["api_failed"], results["api_answered"] = api, failed, answered
            results["api_cpu"], results["api_wait"] = api_cpu, api_wait
            results["rss_peak"] = peak_rss(service.process.pid)[0]
            results["orders_end"] = order_states(service)
            if os.environ.get("BENCH_DEBUG"):
                (Path.cwd() / "vehicles.json").write_text(json.dumps(service.get("/vehicles"), indent=1))
                (Path.cwd() / "gates.json").write_text(json.dumps(service.get("/gates"), indent=1))
                # each clearance with its wall-clock times and updates: to be laid beside the service's log
                (Path.cwd() / "clearances.json").write_text(json.dumps([vars(c) for c in samples], indent=1))
        except BaseException:
            console.print("\n".join(tail[-40:]))
            if runaway:
                console.print(f"the service was killed at {runaway[0] / 2**30:.1f} GiB RSS")
            raise
        finally:
            stop.set()
            customs.close()
            service.stop()
            if emulators is not None:
                emulators.stop()
    if os.environ.get("BENCH_DEBUG"):
        console.print("\n".join(tail[-40:]))
        console.print(results["misses"])
    report(results, console)


def cpu_per(r: dict[str, Any], kind: str) -> float:
    """The service's CPU seconds per answered request during the API slices of ``kind``, less what it spent
    per second on the fleet alone (the quiet slices)."""
    return max(r["api_cpu"][kind] - r["api_cpu"]["quiet"], 0.0) / max(r["api_answered"][kind], 1)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds == seconds else "n/a"


def tick_ms(seconds: float) -> str:
    return f">= {seconds:.0f} s (beyond the histogram)" if seconds >= TICK_TOP else ms(seconds)


def report(r: dict[str, Any], console: Console) -> None:
    size: Size = r["size"]
    idle, loaded = r["idle"], r["loaded"]
    clearance: list[Clearance] = r["clearance"]
    past = [c.past_gate - c.sent for c in clearance if c.past_gate is not None]
    unstalled = [c for c in clearance if c.past_gate is not None and c.stalled is None]
    free = [c.past_gate - c.sent for c in unstalled if c.behind is None]
    free_ack = [c.past_gate - c.ack for c in unstalled if c.behind is None]
    behind = [c.past_gate - c.sent for c in unstalled if c.behind is not None]
    waited = [c.past_gate - c.sent if c.past_gate is not None else float("inf") for c in clearance if c.stalled]
    first = [c.first_update - c.sent for c in clearance if c.first_update is not None]
    health, routes, polled = r["api"]["health"], r["api"]["routes"], r["api"]["polled"]
    rows = [
        ("dispatch tick p50", tick_ms(loaded.quantile(0.5)), tick_ms(idle.quantile(0.5)) + " (idle fleet)", ""),
        ("dispatch tick p99", tick_ms(loaded.quantile(0.99)), tick_ms(idle.quantile(0.99)) + " (idle fleet)",
         f"< {GOALS['tick'] * 1000:.0f} ms: {'met' if loaded.quantile(0.99) < GOALS['tick'] else 'NOT met'}"),
        ("ticks / s", f"{loaded.total / loaded.seconds:.1f}", f"{idle.total / idle.seconds:.1f} (idle fleet)", ""),
        ("clearance -> update past the gate p50, its way free", ms(quantile(free, 0.5)), "", ""),
        ("clearance -> update past the gate p99, its way free", ms(quantile(free, 0.99)), "",
         f"< {GOALS['clearance'] * 1000:.0f} ms: "
         f"{'met' if free and quantile(free, 0.99) < GOALS['clearance'] else 'NOT met'}"),
        ("  the same from the ACK, p50 / p99", f"{ms(quantile(free_ack, 0.5))} / {ms(quantile(free_ack, 0.99))}",
         "", ""),
        ("clearance -> first order update p50 / p99 (every clearance)",
         f"{ms(quantile(first, 0.5))} / {ms(quantile(first, 0.99))}", "", ""),
        ("clearances: in all (past the gate within 10 s) / way free / behind a vehicle just released onto its lanes "
         "/ held at the gate (its way or dock taken)",
         f"{len(clearance)} ({len(past)}) / {len(free)} / {len(behind)} / {len(waited)}", "", ""),
        ("clearance -> update past the gate, behind a vehicle just released onto its lanes: p50 / max",
         f"{ms(quantile(behind, 0.5))} / {ms(max(behind, default=float('nan')))}",
         f"with the way-free ones: p99 {ms(quantile(free + behind, 0.99))}", ""),
        (" / ".join(LOG_COUNTED.values()) + " (service log)",
         " / ".join(str(r["log_counts"][what]) for what in LOG_COUNTED), "", ""),
        ("clearance -> update past the gate, those held: p50 / max", f"{ms(quantile(waited, 0.5))} / "
         f"{ms(max(waited, default=float('nan')))}", f"all: p99 {ms(quantile(past, 0.99))}", ""),
        (f"API p50 ({size.clients} clients)", ms(quantile(routes, 0.5)), ms(quantile(health, 0.5)) + " (/health)",
         ""),
        (f"API p99 ({size.clients} clients)", ms(quantile(routes, 0.99)), ms(quantile(health, 0.99)) + " (/health)",
         f"< {GOALS['api'] * 1000:.0f} ms: {'met' if quantile(routes, 0.99) < GOALS['api'] else 'NOT met'}"),
        (f"API p50 / p99, open loop: {size.clients} consoles at {CONSOLE_HZ:.0f} req/s each",
         f"{ms(quantile(polled, 0.5))} / {ms(quantile(polled, 0.99))}", "",
         f"< {GOALS['api'] * 1000:.0f} ms: {'met' if quantile(polled, 0.99) < GOALS['api'] else 'NOT met'}"),
        ("API requests / s", f"{r['api_answered']['routes'] / (2 * size.api_slice_s):.0f}",
         f"{r['api_answered']['health'] / (2 * size.api_slice_s):.0f} (/health)", ""),
        ("service CPU per API request (less the fleet's own work in quiet slices)",
         f"{cpu_per(r, 'routes') * 1000:.2f} ms", f"{cpu_per(r, 'health') * 1000:.2f} ms (/health)",
         f"ratio {cpu_per(r, 'routes') / cpu_per(r, 'health'):.2f}" if cpu_per(r, "health") > 0 else ""),
        ("service threads waiting for a CPU (thread-s per s): with API load / quiet",
         f"{r['api_wait']['routes'] / (2 * size.api_slice_s):.2f}",
         f"{r['api_wait']['health'] / (2 * size.api_slice_s):.2f} (/health) / "
         f"{r['api_wait']['quiet'] / (2 * size.api_slice_s):.2f} (quiet)", ""),
        ("API requests failed (not 200, timeout, dropped)",
         f"{r['api_failed']['routes']} (open loop: {r['api_failed']['polled']})",
         f"{r['api_failed']['health']} (/health)", ""),
        ("service CPU, share of one core", f"{r['cpu_loaded']:.0%}", f"{r['cpu_idle']:.0%} (idle fleet)", ""),
        ("service peak RSS (VmHWM)", f"{r['rss_peak'] / 2**20:.0f} MiB", f"{r['rss_idle'] / 2**20:.0f} MiB "
         "(RSS, idle fleet)", f"< 1.5 GiB: {'met' if r['rss_peak'] < GOALS['rss'] else 'NOT met'}"),
    ]
    table = Table(title=f"fleet manager: {size.vehicles} vehicles (states at 2 Hz over DDS), {size.orders} orders, "
                        f"{size.read_workers} read workers")
    for column in ("measure", "with the orders", "same-run baseline", "goal"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    states = ", ".join(f"{k} {v}" for k, v in sorted(r["orders_end"].items()) if v)
    notes = [
        f"Vehicles ONLINE at their nodes {r['ready_s']:.0f} s after start; {size.orders} orders posted in "
        f"{r['post_s']:.1f} s (8 threads); measured window {loaded.seconds:.0f} s with the orders, "
        f"{idle.seconds:.0f} s idle before them. Machine: {os.cpu_count()} cores, load average (1 min) "
        f"{r['load']:.1f} at the end of the window (everything this benchmark starts, and whatever else runs).",
        f"Order messages to vehicles during the window: {r['order_messages_per_s']:.1f}/s. Orders at the end: "
        f"{states}.",
        "Tick quantiles are interpolated within the service's histogram buckets "
        f"({TICK_METRIC}); ticks include the wake-ups on vehicle states.",
        "Clearance: the deciding event is the second authority's `released` (VN's goes first); times run from its "
        "send to the vehicle's receipt of the order update whose base goes past its gate (the replanned update "
        "that ends the wait comes first). A vehicle that 0.3 s after that update still stands at its gate with "
        "nothing released past it, its replan stalled (GET /vehicles/{id}: stalled_because; its drop dock or its "
        "way taken by vehicles this benchmark has not cleared; or the service's log said so, \"cleared at its gate, "
        "its way on taken\", where the view lagged), waits for traffic, not for the service: its wait "
        "is shown apart (inf: not past its gate within 10 s). So is a vehicle behind another one released over "
        f"the nodes past its gate less than {DRIVE_S:.1f} s before the event (an emulated vehicle drives a release "
        f"{DRIVE_S:.1f} s after it came), so not yet on its way: the plans let the cleared vehicle go only once "
        "that one has moved on (say, after the benchmark released the vehicle ahead, held by traffic, the moment "
        "its way cleared).",
        "API: requests alternate between the routes (/vehicles, /orders?limit=50, /gates, /orders/{id}) and "
        f"/health, {size.api_slice_s:.0f} s slices each, twice, each pair after a quiet slice as long (no API "
        "load: the fleet's own CPU, subtracted from the CPU per request), while the fleet works; the closed loop is "
        "wrk (C, 2 threads, on the same 2 cores) with no think time, so the mean latency is the clients' count "
        "over the requests/s (Little's law): the API goal is a throughput goal. Open loop (Python clients in the "
        "benchmark's process): then "
        f"two slices as long in which {size.clients} consoles each ask for the next route every "
        f"{1 / CONSOLE_HZ:.1f} s whether or not the last answer came, timed from when each request was due.",
    ]
    for line in notes:
        console.print(line)
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [f"# {table.title}", "", "| " + " | ".join(str(c.header) for c in table.columns) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    (OUT / "fleet.md").write_text("\n".join(lines) + "\n\n" + "\n\n".join(notes) + "\n")
    plot(idle, loaded, free, health, routes)
    console.print(f"wrote {OUT / 'fleet.md'} and {OUT / 'fleet.png'}")


def plot(idle: TickWindow, loaded: TickWindow, clearance: list[float], health: list[float],
         routes: list[float]) -> None:
    fig, (tick_ax, clear_ax, api_ax) = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    for window, label in ((idle, "idle fleet"), (loaded, "with the orders")):
        finite = [b for b in window.bounds if b != float("inf")]
        share = np.cumsum(window.counts[:len(finite)]) / max(window.total, 1)
        tick_ax.step([b * 1000 for b in finite], share, where="post", label=label)
    tick_ax.axvline(GOALS["tick"] * 1000, color="k", ls="--", label="goal p99")
    tick_ax.set(xscale="log", xlabel="dispatch tick, ms", ylabel="share of ticks at most", title="dispatch tick")
    if clearance:
        clear_ax.hist([c * 1000 for c in clearance], bins=30)
    clear_ax.axvline(GOALS["clearance"] * 1000, color="k", ls="--", label="goal p99")
    clear_ax.set(xlabel="ms", ylabel="clearances", title="clearance event -> order update on the vehicle's topic")
    for values, label in ((health, "/health"), (routes, "routes")):
        if values:
            data = np.sort(np.asarray(values) * 1000)
            api_ax.plot(data, np.arange(1, data.size + 1) / data.size, label=label)
    api_ax.axvline(GOALS["api"] * 1000, color="k", ls="--", label="goal p99")
    api_ax.set(xscale="log", xlabel="latency, ms", ylabel="share of requests at most", title="API latency")
    for ax in (tick_ax, clear_ax, api_ax):
        ax.legend()
    fig.savefig(OUT / "fleet.png", dpi=110)


if __name__ == "__main__":
    main()
