"""Customs ingestion benchmark: throughput over ZeroMQ and HTTP, and event-to-decision latency.

Two authorities, N consignments (default 10,000). Every figure is measured in this run against
``xborder serve`` in its own process; each is also shown as a ratio to a baseline measured in the same
run on the same transport (a ZeroMQ echo ROUTER; the service's own /health over HTTP), because this
machine is shared and absolute numbers drift.

On a busy machine events/s measures the machine: what the service itself costs is its **CPU time per
event** (user + system of all its threads, from ``/proc/<pid>``, less what it burns idle), shown as events
per service-CPU-second, and as a ratio to a bare loop of the one thing it must do per event whatever the
code — an Ed25519 verification (libsodium), timed in this process in the same run. Whether the
service was the bottleneck shows in its busiest thread's share of a core during the flood (near 100 %: it
was; well below: the clients or the machine were).

Latency: the time from sending the last release a consignment needs to receiving the service's PUB
``clearance`` message that says it may now cross.

    .venv/bin/python tests/bench/bench_customs.py [--consignments 10000] [--quick] [--zmq-only]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import matplotlib
import zmq
from nacl.signing import VerifyKey
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fleet.customs.envelope import signed_bytes
from fleet.customs.signing import EventSigner, generate_keys, load_private_key
from fleet.transports.curve import CurvePair, generate_curve_keys, make_client
from sim.service_process import ServiceProcess, token_for

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")
OUT = Path("out/bench")
WINDOW = 256  # ZeroMQ events in flight
HTTP_WORKERS = 8


def consignment(i: int) -> str:
    return f"VN-{i:012d}"


def zmq_pipelined(endpoint: str, payloads: list[bytes], progress: Progress, label: str,
                  secure: Callable[[zmq.Socket], None] = lambda sock: None) -> float:
    """Send every payload with up to WINDOW in flight; return events/s over the whole exchange."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    secure(sock)
    sock.connect(endpoint)
    task = progress.add_task(label, total=len(payloads))
    sent = received = 0
    start = time.perf_counter()
    while received < len(payloads):
        while sent < len(payloads) and sent - received < WINDOW:
            sock.send(payloads[sent])
            sent += 1
        if sock.poll(10_000):
            reply = sock.recv()
            received += 1
            if b'"ACK"' not in reply:
                raise RuntimeError(f"NACK in benchmark: {reply[:200]!r}")
            progress.advance(task)
        else:
            raise TimeoutError("no reply from the ROUTER")
    elapsed = time.perf_counter() - start
    sock.close()
    return len(payloads) / elapsed


def zmq_authorities(endpoint: str, payloads: dict[str, list[bytes]], progress: Progress,
                    secure: Callable[[zmq.Socket, str], None]) -> float:
    """Every authority pipelines its own events over its own CURVE DEALER at once; return events/s overall."""
    start = time.perf_counter()
    with ThreadPoolExecutor(len(payloads)) as pool:
        list(pool.map(lambda name: zmq_pipelined(endpoint, payloads[name], progress, f"ingest over ZeroMQ ({name})",
                                                 lambda sock: secure(sock, name)), payloads))
    return sum(len(p) for p in payloads.values()) / (time.perf_counter() - start)


def zmq_echo_baseline(payloads: list[bytes], progress: Progress) -> float:
    """The transport's ceiling here: a ROUTER that answers every message at once."""
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def echo() -> None:
        while not stop.is_set():
            if router.poll(100):
                identity, _ = router.recv_multipart()
                router.send_multipart([identity, b'{"status":"ACK"}'])

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    rate = zmq_pipelined(f"tcp://127.0.0.1:{port}", payloads, progress, "ZeroMQ echo baseline")
    stop.set()
    thread.join()
    router.close()
    return rate


def http_parallel(url: str, bodies: list[bytes] | None, count: int, headers: dict[str, str], progress: Progress,
                  label: str) -> float:
    """POST every body (or GET ``url`` count times) with HTTP_WORKERS keep-alive clients; return requests/s."""
    task = progress.add_task(label, total=count)
    chunks = [list(range(w, count, HTTP_WORKERS)) for w in range(HTTP_WORKERS)]

    def work(indices: list[int]) -> None:
        with httpx.Client(headers=headers, timeout=30) as client:
            for i in indices:
                reply = client.post(url, content=bodies[i], headers={"Content-Type": "application/json"}) \
                    if bodies else client.get(url)
                if reply.status_code != 200:
                    raise RuntimeError(f"HTTP {reply.status_code}: {reply.text[:200]}")
                progress.advance(task)

    start = time.perf_counter()
    with ThreadPoolExecutor(HTTP_WORKERS) as pool:
        list(pool.map(work, chunks))
    return count / (time.perf_counter() - start)


def latencies(service: ServiceProcess, final_events: list[dict], send, progress: Progress, label: str,
              secure: Callable[[zmq.Socket], None]) -> list[float]:
    """Send each consignment's last release alone and time it until the PUB says it may cross (ms)."""
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    secure(sub)
    sub.setsockopt(zmq.SUBSCRIBE, b"clearance")
    sub.connect(service.pub)
    time.sleep(0.5)  # a SUB joining late misses messages: let the subscription settle before measuring
    task = progress.add_task(label, total=len(final_events))
    out = []
    for event in final_events:
        start = time.perf_counter()
        send(event)
        while True:
            if not sub.poll(10_000):
                raise TimeoutError(f"no clearance message for {event['consignment_id']}")
            _, body = sub.recv_multipart()
            message = json.loads(body)
            if message["consignment_id"] == event["consignment_id"] and message["crossing_allowed"]:
                break
        out.append((time.perf_counter() - start) * 1000)
        progress.advance(task)
    sub.close()
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc): a figure other jobs' load barely moves."""
    return _cpu_of(Path(f"/proc/{pid}/stat"))


def thread_times(pid: int) -> dict[str, tuple[float, float]]:
    """Each thread's seconds on a CPU and seconds runnable but waiting for one (``/proc/.../schedstat``), by id."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            on_cpu, waiting = (task / "schedstat").read_text().split()[:2]
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
        threads[task.name] = (int(on_cpu) / 1e9, int(waiting) / 1e9)
    return threads


def _cpu_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def verification_baseline(events: list[dict], public_keys: dict[str, str]) -> float:
    """CPU µs of one bare Ed25519 verification with libsodium (PyNaCl), the canonical bytes made beforehand: the
    least every event costs, measured on this machine now. A fixed workload, whatever the service's code: runs
    of different versions compare by their ratio to it."""
    keys = {name: VerifyKey(base64.b64decode(key)) for name, key in public_keys.items()}
    prepared = [(keys[event["authority"]], signed_bytes(event), base64.b64decode(event["signature"]))
                for event in events]
    start = time.thread_time()
    for key, message, signature in prepared:
        key.verify(message, signature)  # raises if a benchmark event does not verify
    return (time.thread_time() - start) / len(prepared) * 1e6


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consignments", type=int, default=10_000)
    parser.add_argument("--latency-samples", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="a small run that only proves the benchmark works")
    parser.add_argument("--zmq-only", action="store_true", help="only the ZeroMQ figures (no HTTP, no latencies)")
    args = parser.parse_args()
    if args.quick:
        args.consignments, args.latency_samples = 200, 20
    console = Console()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in NAMES:
            generate_keys(name, work)
            generate_curve_keys(name, work)
        signers = {n: EventSigner(n, load_private_key(work / f"{n}.key")) for n in NAMES}
        public_keys = {n: (work / f"{n}.pub").read_text().strip() for n in NAMES}
        service = ServiceProcess(work, public_keys,
                                 curve_public_keys={n: (work / f"{n}.curve.pub").read_text().strip() for n in NAMES},
                                 checkpoint_every=1000).start()
        server_key = service.fleet_curve_pub.read_text().strip().encode()

        def secure(sock: zmq.Socket, name: str) -> None:
            make_client(sock, CurvePair.from_secret_file(work / f"{name}.curve.key"), server_key)

        try:
            results = run(args, console, service, signers, secure, public_keys)
        finally:
            service.stop()
    report(results, args, console)


def run(args, console: Console, service: ServiceProcess, signers: dict[str, EventSigner],
        secure: Callable[[zmq.Socket, str], None], public_keys: dict[str, str]) -> dict[str, float]:
    n, samples = args.consignments, args.latency_samples
    half = n // 2
    # Every consignment: a declaration and a release from each authority. The last release of the
    # latency sample consignments is held back and sent alone later, to be timed.
    held_back = set(range(n - 2 * samples, n))
    events = {"zmq": [], "http": []}
    finals: dict[str, list[dict]] = {"zmq": [], "http": []}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("signing events", total=n)
        for i in range(n):
            lane = "zmq" if i < half else "http"
            for name, signer in signers.items():
                events[lane].append(signer.event("declaration.accepted", consignment(i), direction="VN->CN"))
                release = signer.event("released", consignment(i), direction="VN->CN")
                if i in held_back and name == NAMES[-1]:
                    finals["zmq" if i < n - samples else "http"].append(release)
                else:
                    events[lane].append(release)
            progress.advance(task)
    http_url = f"{service.base}/customs/events"
    auth = {n: {"Authorization": f"Bearer {token_for(f'customs:{n}')}"} for n in NAMES}
    results: dict[str, float] = {}
    with Progress(console=console) as progress:
        zmq_payloads = [json.dumps(e).encode() for e in events["zmq"]]
        results["zmq_baseline_eps"] = zmq_echo_baseline(zmq_payloads, progress)
        per_authority = {name: [json.dumps(e).encode() for e in events["zmq"] if e["authority"] == name]
                         for name in NAMES}
        pid = service.process.pid
        idle_before, idle_start = cpu_seconds(pid), time.perf_counter()
        time.sleep(2.0)  # the service's own background (dispatch loop, tick duties): subtracted below
        idle_cores = (cpu_seconds(pid) - idle_before) / (time.perf_counter() - idle_start)
        cpu_before, threads_before = cpu_seconds(pid), thread_times(pid)
        client_before, start = time.process_time(), time.perf_counter()
        load_before = os.getloadavg()[0]
        results["zmq_eps"] = zmq_authorities(service.router, per_authority, progress, secure)
        wall = time.perf_counter() - start
        cpu = cpu_seconds(pid) - cpu_before
        threads_after = thread_times(pid)
        results["zmq_cpu_us"] = cpu / len(zmq_payloads) * 1e6
        results["zmq_net_cpu_us"] = (cpu - idle_cores * wall) / len(zmq_payloads) * 1e6
        results["service_cores"] = cpu / wall
        busiest = max(threads_after, key=lambda t: threads_after[t][0] - threads_before.get(t, (0.0, 0.0))[0])
        before = threads_before.get(busiest, (0.0, 0.0))
        results["busiest_on_cpu"] = (threads_after[busiest][0] - before[0]) / wall
        results["busiest_waiting"] = (threads_after[busiest][1] - before[1]) / wall
        results["client_cores"] = (time.process_time() - client_before) / wall
        results["idle_cores"] = idle_cores
        results["load"] = (load_before + os.getloadavg()[0]) / 2
        results["zmq_events"] = len(zmq_payloads)
        results["verify_us"] = verification_baseline(events["zmq"][:2000], public_keys)
        if args.zmq_only:
            return results
        by_authority = {name: [e for e in events["http"] if e["authority"] == name] for name in NAMES}
        http_rates, http_count = [], 0
        for name, batch in by_authority.items():
            bodies = [json.dumps(e).encode() for e in batch]
            http_rates.append((len(bodies), http_parallel(http_url, bodies, len(bodies), auth[name], progress,
                                                          f"ingest over HTTP ({name})")))
            http_count += len(bodies)
        results["http_eps"] = http_count / sum(count / rate for count, rate in http_rates)
        results["http_events"] = http_count
        results["http_baseline_rps"] = http_parallel(f"{service.base}/health", None, min(http_count, 5000), {},
                                                     progress, "HTTP /health baseline")
        dealer = zmq.Context.instance().socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        secure(dealer, NAMES[-1])
        dealer.connect(service.router)

        def send_zmq(event: dict) -> None:
            dealer.send(json.dumps(event).encode())
            dealer.poll(10_000)
            dealer.recv()

        client = httpx.Client(headers=auth[NAMES[-1]], timeout=10)
        def subscriber(sock: zmq.Socket) -> None:
            secure(sock, NAMES[0])

        zmq_ms = latencies(service, finals["zmq"], send_zmq, progress, "latency over ZeroMQ", subscriber)
        http_ms = latencies(service, finals["http"], lambda e: client.post(http_url, json=e),
                            progress, "latency over HTTP", subscriber)
        dealer.close()
        client.close()
    for label, values in (("zmq", zmq_ms), ("http", http_ms)):
        results[f"{label}_p50_ms"] = percentile(values, 50)
        results[f"{label}_p99_ms"] = percentile(values, 99)
    check = service.get(f"/consignments/{consignment(n - 1)}/clearance")
    if not check["crossing_allowed"]:
        raise RuntimeError(f"the last consignment should be cleared: {check}")
    return results


def report(r: dict[str, float], args, console: Console) -> None:
    table = Table(title=f"customs ingestion, 2 authorities, {args.consignments:,} consignments "
                        f"(load average {r['load']:.1f}, {time.strftime('%Y-%m-%d %H:%M')})")
    for column in ("measure", "value", "baseline (same run)", "ratio"):
        table.add_column(column)
    rows = [
        ("ZeroMQ ingest (CURVE, 2 authorities, group commit, synchronous=FULL)",
         f"{r['zmq_eps']:,.0f} events/s ({r['zmq_events']:,.0f})",
         f"echo ROUTER {r['zmq_baseline_eps']:,.0f} msg/s", f"{r['zmq_eps'] / r['zmq_baseline_eps']:.2f}"),
        ("service CPU per ZeroMQ event (user + system, all threads, less idle)",
         f"{r['zmq_net_cpu_us']:,.0f} µs = {1e6 / r['zmq_net_cpu_us']:,.0f} events per service-CPU-second "
         f"(gross {r['zmq_cpu_us']:,.0f} µs)",
         f"one bare Ed25519 verification (libsodium) {r['verify_us']:,.1f} µs",
         f"{r['zmq_net_cpu_us'] / r['verify_us']:.2f}"),
        ("was the service the bottleneck? its busiest thread during the flood",
         f"{r['busiest_on_cpu']:.0%} on a CPU, {r['busiest_waiting']:.0%} runnable but waiting for one "
         f"(the machine), the rest blocked (fsync, GIL, no message)",
         f"service {r['service_cores']:.2f} cores, benchmark client {r['client_cores']:.2f}, "
         f"service idle {r['idle_cores']:.3f}", ""),
    ]
    if not args.zmq_only:
        rows += [
            ("HTTP ingest", f"{r['http_eps']:,.0f} events/s ({r['http_events']:,.0f})",
             f"GET /health {r['http_baseline_rps']:,.0f} req/s", f"{r['http_eps'] / r['http_baseline_rps']:.2f}"),
            ("event-to-decision, ZeroMQ", f"p50 {r['zmq_p50_ms']:.1f} ms, p99 {r['zmq_p99_ms']:.1f} ms", "", ""),
            ("event-to-decision, HTTP", f"p50 {r['http_p50_ms']:.1f} ms, p99 {r['http_p99_ms']:.1f} ms", "", ""),
        ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    lines = ["| measure | value | baseline (same run) | ratio |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    (OUT / "customs.md").write_text(f"# {table.title}\n\n" + "\n".join(lines) + "\n")
    if args.zmq_only:
        console.print(f"wrote {OUT / 'customs.md'}")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    left.bar(["ZeroMQ", "ZeroMQ echo", "HTTP", "HTTP /health"],
             [r["zmq_eps"], r["zmq_baseline_eps"], r["http_eps"], r["http_baseline_rps"]],
             color=["#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78"])
    left.set_ylabel("messages per second")
    left.set_title("ingestion throughput vs transport baseline")
    right.bar(["ZeroMQ p50", "ZeroMQ p99", "HTTP p50", "HTTP p99"],
              [r["zmq_p50_ms"], r["zmq_p99_ms"], r["http_p50_ms"], r["http_p99_ms"]],
              color=["#1f77b4", "#1f77b4", "#ff7f0e", "#ff7f0e"])
    right.set_ylabel("ms")
    right.set_title("event-to-decision latency")
    fig.savefig(OUT / "customs.png", dpi=110)
    console.print(f"wrote {OUT / 'customs.md'} and {OUT / 'customs.png'}")


if __name__ == "__main__":
    main()
