"""Where a dispatch tick's time goes: an in-process Dispatcher (tests/fleet/dispatch/conftest.py ``make_fleet``:
real store, gate, orders, planner; vehicles behind the in-process link on a fake clock) with many vehicles and
queued orders, its ticks timed and, with --profile, profiled with cProfile.

    PYTHONPATH=$PWD .venv/bin/python tests/bench/profile_dispatch.py --vehicles 184 --orders 2000 [--profile]

(not a ``bench_*.py``: ``make bench`` does not run it). 184 vehicles at most: make_fleet alternates the sides'
parking spots and CN has 92. Run it under a memory limit (``ulimit -v``) on a shared machine.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np

from fleet.customs.gate import Authority
from fleet.customs.signing import EventSigner, generate_keys, load_private_key, parse_public_key
from fleet.maps import load_corridor
from tests.fleet.conftest import Clock, Customs
from tests.fleet.dispatch.conftest import MAP, docks, make_fleet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=184)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0, help="simulated seconds measured (after 2 s)")
    parser.add_argument("--max-orders", type=int, help="fleet.dispatch.assign_max_orders (default: the setting's)")
    parser.add_argument("--max-vehicles", type=int, help="fleet.dispatch.assign_max_vehicles")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="profile_dispatch_"))
    clock = Clock()
    names = (("VN_CUSTOMS", "VN"), ("CN_CUSTOMS", "CN"))
    for name, _ in names:
        generate_keys(name, folder)
    customs = Customs(clock, *(EventSigner(name, load_private_key(folder / f"{name}.key"), clock=clock)
                               for name, _ in names),
                      [Authority(name, side, parse_public_key((folder / f"{name}.pub").read_text()))
                       for name, side in names], folder / "fleet.db", [])
    corridor = load_corridor(MAP)
    fleet = make_fleet(customs, corridor, args.vehicles)
    caps = {k: v for k, v in (("assign_max_orders", args.max_orders), ("assign_max_vehicles", args.max_vehicles))
            if v is not None}
    fleet.dispatcher.settings = fleet.dispatcher.settings.model_copy(update=caps)
    fleet.authorize(*fleet.dispatcher.tracks)
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    for i in range(args.orders):
        here, there, side = (vn, cn, "VN") if i % 2 == 0 else (cn, vn, "CN")
        fleet.order([f"{side}-P{i:08d}"], here[i % len(here)], there[(i // 2) % len(there)])
    started = time.perf_counter()
    fleet.run(2.0)
    print(f"first 2 s (the full plan, the first assignments): {time.perf_counter() - started:.2f} s wall")
    fleet.dispatcher.tick_seconds.clear()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    started = time.perf_counter()
    fleet.run(args.seconds)
    wall = time.perf_counter() - started
    if profiler:
        profiler.disable()
    ticks = np.array(fleet.dispatcher.tick_seconds)
    print(f"{ticks.size} ticks in {wall:.1f} s wall: p50 {np.quantile(ticks, 0.5) * 1000:.1f} ms, "
          f"p99 {np.quantile(ticks, 0.99) * 1000:.1f} ms, max {ticks.max() * 1000:.1f} ms"
          + (" (under cProfile)" if profiler else ""))
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
