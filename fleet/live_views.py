"""What a standby fleet manager reads: the leader's vehicle and gate views, kept in the store.

Orders, the audit log and everything else a reader asks for are rows in the shared store, which a standby
reads as they are committed. The vehicles' live state and the gates' queues are not: they live in the
leader's dispatch loop. So the leader writes its two views (``GET /vehicles``, ``GET /gates``) into
``live_views`` every ``store.election.views_s`` (fenced like every write: a deposed leader's are refused),
and a standby answers from them, saying how old they are. Their staleness is bounded by ``views_s`` plus
one write; once the leader is gone they stop changing, and their age says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from fleet.dispatch import GateView, VehicleView
from fleet.dispatch.snapshot import GATES, VEHICLES, JsonView
from fleet.store import Store, StoreError
from fleet.store.schema import live_views

log = logging.getLogger(__name__)


class FleetViews(Protocol):
    """What the read routes show of vehicles and gates: the dispatcher's own (leader) or the stored copy (standby)."""

    def vehicles(self) -> list[VehicleView]: ...

    def vehicle(self, vehicle_id: str) -> VehicleView: ...

    def gates(self) -> list[GateView]: ...

    # the same as JSON, which the read routes answer with as they are (no validation or encoding per request)
    def vehicles_json(self) -> bytes: ...

    def vehicle_json(self, vehicle_id: str) -> bytes: ...

    def gates_json(self) -> bytes: ...

    def built_json(self, view: JsonView, vehicle_id: str | None = None) -> bytes | None:
        """The JSON as it is already built, without waiting for a lock or reading the store; None if answering
        needs either (the API answers the first on its event loop, the others on a worker thread)."""


class ViewsUnavailable(StoreError):
    """No leader has written its views yet."""


class ViewsWriter:
    """On the leader: writes ``source``'s views every ``every_s`` on a thread of its own."""

    def __init__(self, store: Store, source: FleetViews, epoch: Callable[[], int | None], every_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.source, self.epoch, self.every_s, self.clock = store, source, epoch, every_s, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-views", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.write()
            except StoreError as exc:  # the database away, or deposed: the leadership decides what follows
                log.warning("views not written: %s", exc)

    def write(self) -> None:
        bodies = {"vehicles": self.source.vehicles_json().decode(), "gates": self.source.gates_json().decode()}
        now, epoch = self.clock(), self.epoch() or 0
        with self.store.transaction() as conn:
            for name, body in bodies.items():
                values = {"taken_at": now, "epoch": epoch, "body": body}
                if conn.execute(live_views.update().where(live_views.c.name == name).values(**values)).rowcount == 0:
                    conn.execute(live_views.insert().values(name=name, **values))


class _JsonBodies:
    """Views read from the leader's JSON bodies (``vehicles`` and ``gates``), wherever they are kept."""

    def _read(self, name: str) -> tuple[float, str]:
        """(when the leader took the views, the body named ``name``); ViewsUnavailable if there is none yet."""
        raise NotImplementedError

    def as_of(self) -> float:
        """When the leader took the views now kept (wall-clock seconds)."""
        return self._read("vehicles")[0]

    def vehicles(self) -> list[VehicleView]:
        return VEHICLES.validate_json(self._read("vehicles")[1])

    def vehicle(self, vehicle_id: str) -> VehicleView:
        found = [v for v in self.vehicles() if v.id == vehicle_id]
        if not found:
            raise KeyError(vehicle_id)
        return found[0]

    def gates(self) -> list[GateView]:
        return GATES.validate_json(self._read("gates")[1])

    def vehicles_json(self) -> bytes:
        return self._read("vehicles")[1].encode()

    def vehicle_json(self, vehicle_id: str) -> bytes:
        return self.vehicle(vehicle_id).model_dump_json().encode()

    def gates_json(self) -> bytes:
        return self._read("gates")[1].encode()


@dataclass(frozen=True)
class StoredViews(_JsonBodies):
    """On a standby: the leader's last views, read from the store at each call; ``as_of()`` says when taken."""

    store: Store

    def _read(self, name: str) -> tuple[float, str]:
        with self.store.reading() as conn:
            row = conn.execute(sa.select(live_views.c.taken_at, live_views.c.body)
                               .where(live_views.c.name == name)).first()
        if row is None:
            raise ViewsUnavailable("no leader has published its vehicle and gate views yet")
        return row.taken_at, row.body

    def built_json(self, view: JsonView, vehicle_id: str | None = None) -> bytes | None:
        return None  # every answer is a read of the store


class RelayedViews(_JsonBodies):
    """In a read worker: the leader's views as its channel last sent them (fleet/api/read_channel.py), held in
    memory; the lists are answered as they came, one vehicle from the list parsed once per views sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[str, bytes] = {}
        self._texts: dict[str, str] = {}
        self._taken_at = 0.0
        self._one: dict[str, bytes] | None = None  # each vehicle's JSON of the views held, once asked for

    def update(self, taken_at: float, vehicles: bytes, gates: bytes) -> None:
        with self._lock:
            self._bodies = {"vehicles": vehicles, "gates": gates}
            self._texts, self._taken_at, self._one = {}, taken_at, None

    def _read(self, name: str) -> tuple[float, str]:
        with self._lock:
            if name not in self._bodies:
                raise ViewsUnavailable("this read worker has not yet heard the fleet's views from the dispatch loop")
            if name not in self._texts:
                self._texts[name] = self._bodies[name].decode()
            return self._taken_at, self._texts[name]

    def vehicle_json(self, vehicle_id: str) -> bytes:
        with self._lock:
            one = self._one
        if one is None:
            one = {v.id: v.model_dump_json().encode() for v in self.vehicles()}
            with self._lock:
                self._one = one if self._one is None else self._one
        if vehicle_id not in one:
            raise KeyError(vehicle_id)
        return one[vehicle_id]

    def built_json(self, view: JsonView, vehicle_id: str | None = None) -> bytes | None:
        bodies, one = self._bodies, self._one  # replaced whole by update(): a consistent pair without the lock
        if view is JsonView.VEHICLE:
            return one.get(vehicle_id or "") if one is not None else None
        return bodies.get("vehicles" if view is JsonView.VEHICLES else "gates")
