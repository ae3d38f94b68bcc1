"""``xborder demo``: the whole system live on one machine — ``xborder serve`` on the embedded default's keys and
demo tokens, simulated AGVs as real ROS 2 processes, both customs simulators over ZeroMQ with CURVE, and a
steady stream of orders both ways through the HTTP API — until Ctrl-C, or for ``--duration`` seconds, ending
with a summary read from the API.

The fleet registry must list exactly the vehicles that run (the others would raise "never reported" alarms)
and the fleet's loading times and heartbeat must follow the simulated clock, so the demo writes a small config
of its own, ``var/demo.yaml``: the default deployment's settings (``fleet/defaults.py``: the same keys and
tokens under ``var/``, which it creates when missing) with that fleet section, and a fresh store
(``var/demo.db``: the simulators number their events from 1 again on every run).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import typer

#: measured on the project's 2-core machine (docs/operations.md, "The demo"): the default that two cores carry
DEMO_VEHICLES = 4
DEMO_TIME_SCALE = 12.0
#: consignments a simulated hour, per vehicle: about what a vehicle carries across and back in an hour
ORDERS_PER_VEHICLE_HOUR = 1.5
#: its first simulated minutes book orders both ways (checked for 2 to 4 vehicles: seeds 1 to 6 book one way)
DEMO_SEED = 7
#: how long the customs stream of an unbounded demo lasts, in wall seconds
UNBOUNDED_S = 8 * 3600.0
STATUS_EVERY_S = 10.0
#: simulated seconds at a gate that count as held there: a load whose clearance was in hand when it came still spends
#: a moment in ``awaiting_clearance`` (up to the loop's tick and gate recheck, 12 times longer in simulated time)
HELD_AFTER_S = 30.0
#: simulated seconds of orders posted before the vehicles start: at the first plan they are all there, so the
#: AGVs standing at the docks take them instead of driving off to park
START_S = 120.0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def demo(
    duration: float | None = typer.Option(None, "--duration", min=1.0,
                                          help="stop after this many seconds and print a summary (default: until "
                                               "Ctrl-C)"),
    vehicles: int = typer.Option(DEMO_VEHICLES, "--vehicles", min=1, max=40, help="simulated AGVs (one process "
                                 "each)"),
    time_scale: float = typer.Option(DEMO_TIME_SCALE, "--time-scale", min=1.0, max=30.0,
                                     help="simulated seconds per wall second (vehicles, customs, loading)"),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="the API and console"),
    customs_port: int = typer.Option(5560, "--customs-port", min=1, max=65534,
                                     help="the customs ROUTER (the PUB is the next port)"),
    var: Path = typer.Option(Path("var"), "--var", help="the default deployment's keys and tokens; the demo's "
                             "config, store and logs"),
    map_folder: Path | None = typer.Option(None, "--map", help="corridor folder (default: $XBORDER_MAP or the "
                                           "shipped map)"),
    seed: int = typer.Option(DEMO_SEED, "--seed", help="the customs simulators' and the order stream's seed"),
) -> None:
    """Run the whole system live: the fleet manager, simulated AGVs over ROS 2, both customs simulators and a
    steady stream of orders both ways. Open the printed URL to watch; Ctrl-C stops everything."""
    from rich.console import Console

    from fleet.defaults import KEYS_DIR, TOKENS_FILE
    from fleet.maps import default_map_folder, load_corridor
    from planner.corridor import MapError
    from sim.live import CustomsPlan, LiveSystem, Pace, beyond_gates, dock_spots, fleet_registry
    from sim.order_feed import OrderFeed, planned_orders
    from sim.ros_fleet import take_ended
    from sim.service_process import default_deployment

    console = Console(width=None if sys.stdout.isatty() else 160)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")  # the default deployment: DDS on loopback
    map_folder = map_folder or default_map_folder()
    try:
        corridor = load_corridor(map_folder)
    except MapError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    pace = Pace(time_scale)
    specs = dock_spots(corridor, vehicles)
    fleet = {**pace.fleet_settings(), "vehicles": fleet_registry(corridor, specs)}
    span_s = (duration or UNBOUNDED_S) * time_scale
    backlog = 2 * vehicles  # declared in the first minute and cleared at once: work from the start, the first
    # crossings within a minute (the first orders' AGVs stand at the docks nearest the gates: sim.live.dock_spots)
    plan = CustomsPlan(consignments=backlog + round(ORDERS_PER_VEHICLE_HOUR * vehicles * span_s / 3600),
                       vehicles=vehicles, seed=seed, arrival_spread_s=span_s, backlog=backlog, quick=backlog)
    orders = planned_orders(plan, corridor, first_pickups=[s.node_id for s in specs])
    service = default_deployment(var, fleet, http=port, router_port=customs_port, map_folder=map_folder)
    system = LiveSystem(service, pace, logs=var / "demo-logs")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: a shell starting the demo in
        signal.signal(signum, _interrupt)  # the background leaves it ignored, and Python then keeps it so
    started, started_at = time.monotonic(), time.time()  # the service's timelines are on the wall clock
    summary: Summary | None = None
    since: tuple[float, float] | None = None
    watch: Watch | None = None
    try:
        with console.status(f"starting the fleet manager and {vehicles} vehicles on {corridor.name} ..."):
            system.start_service()
            feed = OrderFeed(service, orders, time_scale, time.time())
            # the shift's first orders are there before the AGVs report (not after: the first plan, as soon as
            # they all have, would send them to park), and their consignments are cleared by then (quick)
            feed.post_due(time.time() + START_S / time_scale)
            system.start_customs(var / KEYS_DIR, plan)
            system.start_vehicles(specs).wait_online()
        since = (time.monotonic(), system.clock.now())
        _welcome(console, service, var / TOKENS_FILE, vehicles, time_scale, var / "demo-logs")
        watch = Watch(service, time_scale, beyond_gates(corridor))
        running = dict(zip((s.vehicle_id for s in specs), system.vehicles, strict=True))
        while duration is None or time.monotonic() - started < duration:
            ended = [p for p in system.processes()
                     if p.poll() is not None and p not in system.customs and p not in system.vehicles]
            if ended:
                raise DemoError(f"a process ended: {ended[0].args!s} (logs in {var / 'demo-logs'})")
            # a vehicle gone, as a real one whose computer died: the fleet manager takes it out, the others go on
            for vehicle_id, how in take_ended(running):
                console.print(f"[yellow]{vehicle_id} ended[/yellow] ({how}): the fleet manager takes it out, the "
                              f"others drive on (its log: {var / 'demo-logs' / vehicle_id}.log)", highlight=False,
                              soft_wrap=True)
            feed.post_due(time.time())
            for line in watch.lines(time.monotonic() - started):
                console.print(line, highlight=False)
            time.sleep(1.0)
        for line in watch.lines(time.monotonic() - started, final=True):
            console.print(line, highlight=False)
        summary = Summary.read(service, time_scale, started_at, system.achieved_scale(*since), watch.firsts)
    except KeyboardInterrupt:
        console.print("stopping ...")
        summary = _try_summary(service, time_scale, started_at,
                               system.achieved_scale(*since) if since else None, watch.firsts if watch else {})
    except (DemoError, TimeoutError, RuntimeError) as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        system.stop()
    if summary:
        summary.print(console, time.monotonic() - started)
        summary_file = var / "demo-summary.json"
        summary_file.write_text(summary.to_json())
        console.print(f"summary   {summary_file.resolve()}")


class DemoError(RuntimeError):
    pass


def _welcome(console, service, tokens_file: Path, vehicles: int, scale: float, logs: Path) -> None:
    import yaml

    tokens = yaml.safe_load(tokens_file.read_text(encoding="utf-8"))
    root = service.base.removesuffix("/api/v1")
    console.rule("xborder demo")
    console.print(f"console   {root}/   (API docs: {root}/docs, API: {service.base})")
    console.print(f"tokens    {tokens_file.resolve()} — one per role, e.g.")
    for role in ("viewer", "dispatcher", "operator"):
        console.print(f"          {role:10s} {tokens[role]}")
    console.print(f"running   {vehicles} AGVs over ROS 2, both customs simulators over ZeroMQ (CURVE), orders both "
                  f"ways; simulated time runs {scale:g}x")
    console.print(f"logs      {logs.resolve()}/   Ctrl-C stops everything")
    console.rule()


def _counts(service) -> tuple[Counter[str], Counter[str]]:
    """Orders by state; crossings by direction: the service's own counter (/metrics), bumped when a vehicle reaches
    the border line and the custody handoff is recorded, the moment its order becomes ``crossing``."""
    from prometheus_client.parser import text_string_to_metric_families

    states = Counter(o["state"] for o in _all_orders(service))
    metrics = httpx.get(service.base.removesuffix("/api/v1") + "/metrics", timeout=10).text
    crossings: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics):
        if family.name == "xborder_crossings":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    crossings[sample.labels["direction"]] += int(sample.value)
    return states, crossings


class Watch:
    """What the terminal shows while the demo runs: a line when something happens for the first time (an AGV
    sets off, a crossing each way, a delivery), and the whole picture every ``STATUS_EVERY_S`` (and on the
    ``final`` look, just before the summary is read)."""

    def __init__(self, service, scale: float, beyond_gates: frozenset[str] = frozenset()) -> None:
        self.service, self.scale, self.beyond_gates = service, scale, beyond_gates
        self.seen: set[str] = set()
        self.firsts: dict[str, float] = {}  # milestone -> wall seconds from the demo's start when first seen
        self.next_status = 0.0

    def lines(self, elapsed: float, final: bool = False) -> list[str]:
        try:
            states, crossings = _counts(self.service)
            vehicles = self.service.get("/vehicles")
            # a vehicle in a gate's queue whose load is cleared is only passing through: not waiting
            waiting = sum(not v["allowed"] for g in self.service.get("/gates") for v in g["queue"])
            alarms = self.service.get("/alarms", open=True, limit=1)["total"]
        except httpx.HTTPError as exc:
            return [f"[{elapsed:5.0f} s] the service did not answer: {exc}"]
        moving = [v["id"] for v in vehicles if v["driving"]]
        through = [v["id"] for v in vehicles if v["last_node"] in self.beyond_gates]
        happened = {"moving": bool(moving), "waiting": waiting > 0, "through a gate": bool(through),
                    **{f"crossed {d}": True for d in crossings}, "delivered": states["delivered"] > 0}
        out = [f"[{elapsed:5.0f} s] " + _milestone(key, moving, through) for key, now in happened.items()
               if now and key not in self.seen]
        self.firsts |= {key: elapsed for key, now in happened.items() if now and key not in self.seen}
        self.seen |= {key for key, now in happened.items() if now}
        if elapsed >= self.next_status or final:
            self.next_status = elapsed + STATUS_EVERY_S
            active = ", ".join(f"{_state_words(s)} {n}" for s, n in states.items()
                               if s not in ("delivered", "cancelled", "failed"))
            out.append(f"[{elapsed:5.0f} s = {elapsed * self.scale / 60:.0f} sim min] AGVs {len(vehicles)} "
                       f"({len(moving)} moving) | orders {active or 'none open'}, delivered {states['delivered']} | "
                       "over the border line " + (", ".join(f"{d} {n}" for d, n in sorted(crossings.items())) or "none")
                       + f" | waiting at the gates {waiting} | open alarms {alarms}")
        return out


def _state_words(state: str) -> str:
    """An order state as the demo's lines say it: "created 4" read as four orders booked so far."""
    return "unassigned" if state == "created" else state.replace("_", " ")


def _milestone(key: str, moving: list[str], through: list[str]) -> str:
    if key == "moving":
        return f"first AGV on its way ({moving[0]}): watch it on the console"
    if key == "through a gate":
        return f"first AGV through a customs gate ({through[0]}): both customs cleared its load"
    if key == "waiting":
        return "first AGV at a customs gate, waiting for both clearances"
    if key == "delivered":
        return "first container delivered across the border"
    return f"first crossing {key.removeprefix('crossed ')}: an AGV reached the border line, its load cleared by both " \
        "customs"


def _all_orders(service) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = service.get("/orders", limit=500, offset=len(out))
        out += page["orders"]
        if not page["orders"] or len(out) >= page["total"]:
            return out


@dataclass
class Summary:
    """A run's outcome, read from the API: orders, crossings each way, gate waits, alarms.

    The system keeps moving while it is read, so every order's state, crossing and times come from one answer
    (its own page): an order read as awaiting clearance in the list may be over the line by its page. A crossing
    is what the live lines count: an order that reached the border line (``crossing`` in its timeline)."""

    orders: Counter[str]
    crossings: Counter[str]
    # simulated seconds the gate held each crossing order (its time in awaiting_clearance, until cleared: released
    # past its gate with both clearances in hand; 0: they were there when it came)
    gate_waits_s: list[float]
    alarms: Counter[str] = field(default_factory=Counter)
    achieved_scale: float | None = None  # simulated seconds per wall second, as the clock managed
    first_moving_s: float | None = None  # wall seconds from the demo's start to the first AGV on its way
    first_gate_pass_s: float | None = None  # ... to the first AGV through its outbound gate (both clearances in hand)
    first_crossing_s: float | None = None  # ... to the first AGV on the border line, either way (its timeline)

    @classmethod
    def read(cls, service, scale: float, started_at: float, achieved_scale: float | None = None,
             firsts: dict[str, float] | None = None) -> Summary:
        """``started_at``: the demo's start on the wall clock (the service's clock); ``firsts``: the live watch's
        first times (wall seconds from the start) of an AGV moving and through a gate."""
        from fleet.orders.model import seconds_held_at_gate

        orders = [service.get(f"/orders/{listed['id']}") for listed in _all_orders(service)]
        crossings: Counter[str] = Counter()
        waits, crossed_at = [], []
        for order in orders:
            at = {t["to_state"]: t["at"] for t in order["timeline"]}
            if "crossing" in at:
                crossings[order["direction"]] += 1
                crossed_at.append(at["crossing"] - started_at)
                waits.append(seconds_held_at_gate((t["at"], t["to_state"]) for t in order["timeline"]) * scale)
        alarms = Counter(a["kind"] for a in service.get("/alarms", limit=500)["alarms"])
        firsts = firsts or {}
        return cls(Counter(o["state"] for o in orders), crossings, waits, alarms, achieved_scale,
                   firsts.get("moving"), firsts.get("through a gate"), min(crossed_at, default=None))

    def to_json(self) -> str:
        return json.dumps({"orders": dict(self.orders), "crossings": dict(self.crossings),
                           "gate_waits_s": self.gate_waits_s, "alarms": dict(self.alarms),
                           "achieved_scale": self.achieved_scale, "first_moving_s": self.first_moving_s,
                           "first_gate_pass_s": self.first_gate_pass_s, "first_crossing_s": self.first_crossing_s},
                          indent=2)

    def print(self, console, elapsed_s: float) -> None:
        from rich.table import Table

        table = Table(title=f"xborder demo: {elapsed_s:.0f} s", show_header=False)
        others = ", ".join(f"{_state_words(s)} {n}" for s, n in self.orders.items() if s != "delivered")
        table.add_row("orders delivered", f"{self.orders['delivered']} of {sum(self.orders.values())} booked "
                      f"({others or 'all done'})")
        table.add_row("crossings (border line)",
                      ", ".join(f"{d}: {n}" for d, n in sorted(self.crossings.items())) or "none")
        waited = [w for w in self.gate_waits_s if w > HELD_AFTER_S]
        how_long = (f", median {statistics.median(waited) / 60:.1f} min, longest {max(waited) / 60:.1f} min "
                    "(simulated: from the gate until cleared, both clearances in hand)") if waited else ""
        table.add_row("held at a gate", f"{len(waited)} of {len(self.gate_waits_s)} crossings held at a customs "
                      f"gate over {HELD_AFTER_S:.0f} s{how_long}")
        table.add_row("alarms", ", ".join(f"{k}: {n}" for k, n in sorted(self.alarms.items())) or "none")
        if self.achieved_scale is not None:
            table.add_row("simulated time", f"{self.achieved_scale:.1f} x the wall clock")
        table.add_row("first AGV moving", _after(self.first_moving_s))
        table.add_row("first gate pass", _after(self.first_gate_pass_s))
        table.add_row("first on the border line", _after(self.first_crossing_s))
        console.print(table)


def _after(seconds: float | None) -> str:
    return "not seen" if seconds is None else f"{seconds:.0f} s after the demo started"


def _try_summary(service, scale: float, started_at: float, achieved_scale: float | None,
                 firsts: dict[str, float]) -> Summary | None:
    try:
        return Summary.read(service, scale, started_at, achieved_scale, firsts)
    except httpx.HTTPError:
        return None
