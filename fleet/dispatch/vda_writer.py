"""The VDA order ids the loop sends, written to the store behind the loop (on a thread of its own).

A write waits for the store's writer lock and for the disk (SQLite ``synchronous=FULL``: an fsync per commit),
behind every other writer: customs events, order creates, staff actions. Measured in ``bench_fleet.py``, the
loop's own end-of-tick write of these ids took up to 1.6 s a tick. Nothing in the loop reads them back: they are
for a restart, which re-syncs from each vehicle's own report (order id, update id, last node) should the
service die before they are written, as it did when they were written at the end of the tick. So they are
written behind: the latest row per vehicle wins, in one transaction per batch. (The released way written with them
is read back after a restart, until the vehicle is planned again: one lost with the process is an older way, by
which the vehicle may be judged past its base, the safe side.)
"""

from __future__ import annotations

import logging
import threading

from fleet.store import StoreError
from fleet.vehicles.registry import SentOrder, VehicleRegistry

log = logging.getLogger(__name__)

class VdaOrderWriter:
    def __init__(self, registry: VehicleRegistry) -> None:
        self.registry = registry
        self._pending: dict[str, SentOrder] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vda-order-writer", daemon=True)

    def start(self) -> VdaOrderWriter:
        self._thread.start()
        return self

    def put(self, rows: list[SentOrder]) -> None:
        with self._lock:
            self._pending.update((row.vehicle_id, row) for row in rows)
        self._ready.set()

    def stop(self) -> None:
        """Write what is pending and end the thread."""
        self._stop.set()
        self._ready.set()
        self._thread.join(timeout=10)
        self._write()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._ready.wait()
            self._ready.clear()
            self._write()

    def _write(self) -> None:
        with self._lock:
            rows, self._pending = list(self._pending.values()), {}
        try:
            self.registry.set_vda_orders(rows)
        except StoreError as exc:  # the database away, or deposed: a restart re-syncs from the vehicles
            log.warning("VDA order ids of %d vehicles not written: %s", len(rows), exc)
