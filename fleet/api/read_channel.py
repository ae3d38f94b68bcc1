"""The channel from the dispatch loop's process to its read workers (fleet/api/read_workers.py): ZeroMQ PUB/SUB on
the loopback.

The leader sends, each numbered by one counter (``seq``):

* ``views``: the vehicle and gate views as JSON, after the loop takes a new snapshot (at most every
  :data:`VIEWS_INTERVAL_S`; every :data:`HEARTBEAT_S` even if nothing changed), with the leader's ``/health``;
* ``order``: an order was created or changed (its id, and the state it left: empty when new), so that a worker
  drops the answers it keeps for it.

A worker that sees a number skipped (PUB drops what a slow subscriber cannot take) drops every order answer it
keeps: a kept answer is never older than the news it missed. A write passed on to the leader comes back with
``X-Xborder-Seq``, the number of the last message sent once it was done; the worker answers it only after it has
heard that message (:meth:`ChannelFeed.wait_for`), so that the writer's next read shows the write.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet.api.main import API_PREFIX
from fleet.events import EventBus, Topic
from fleet.live_views import FleetViews, RelayedViews
from fleet.orders.reads import OrderReads

log = logging.getLogger(__name__)

#: The views are sent at least this often, changed or not: how soon a new worker can answer, and how a worker
#: tells that the loop's process lives (its /health).
HEARTBEAT_S = 1.0
#: The leader unheard this long: a worker's /health says so (503), as a dead process would.
SILENT_S = 3 * HEARTBEAT_S
#: The views go out at most this often (but at once after a write that changed them): the vehicles report at
#: 2 Hz and consoles poll at about that; built at every tick (12.7 a second in bench_fleet), they were a tenth of
#: the loop's process's CPU samples (py-spy), taken from the tick and the clearances.
VIEWS_INTERVAL_S = 0.2
#: The header on a write's answer passed back to a worker: the channel's number once the write was done.
SEQ_HEADER = "x-xborder-seq"
#: Writes under these paths change what the views show.
VIEWS_PATHS = (f"{API_PREFIX}/vehicles", f"{API_PREFIX}/gates")


class ChannelPublisher:
    """On the leader: sends the views whenever the loop takes a new snapshot, and every order change."""

    def __init__(self, views: FleetViews, views_changed: threading.Event, bus: EventBus,
                 health: Callable[[], dict[str, Any]]) -> None:
        self.views, self.views_changed, self.health = views, views_changed, health
        self._socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SNDHWM, 100_000)
        self.endpoint = f"tcp://127.0.0.1:{self._socket.bind_to_random_port('tcp://127.0.0.1')}"
        self._lock = threading.Lock()  # one sender at a time: the socket, the number and what was last sent
        self._seq = 0
        self._last: tuple[bytes, bytes] | None = None
        self._sent_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="read-channel", daemon=True)
        self._unsubscribe = bus.subscribe(self._order_changed, topics=(Topic.ORDER,))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._unsubscribe()
        self._stop.set()
        self.views_changed.set()
        self._thread.join(timeout=5)
        with self._lock:
            self._socket.close()

    @property
    def seq(self) -> int:
        with self._lock:
            return self._seq

    def send_views(self, force: bool = False) -> None:
        """Send the views if they changed (or ``force``, or none went out for :data:`HEARTBEAT_S`)."""
        vehicles, gates = self.views.vehicles_json(), self.views.gates_json()
        with self._lock:
            if not force and self._last == (vehicles, gates) and time.monotonic() - self._sent_at < HEARTBEAT_S:
                return
            header = json.dumps({"taken_at": time.time(), "health": self.health()}).encode()
            self._send(b"views", header, vehicles, gates)
            self._last, self._sent_at = (vehicles, gates), time.monotonic()

    def _order_changed(self, _topic: str, message: dict[str, Any]) -> None:
        before = message.get("from")  # None: a new order
        left = b"" if before is None else str(getattr(before, "value", before)).encode()
        with self._lock:
            self._send(b"order", str(message.get("order_id", "")).encode(), left)

    def _send(self, kind: bytes, *frames: bytes) -> None:
        if self._socket.closed:
            return
        self._seq += 1
        self._socket.send_multipart([kind, str(self._seq).encode(), *frames])

    def _run(self) -> None:
        while not self._stop.is_set():
            self.views_changed.wait(HEARTBEAT_S)
            if self._stop.wait(max(0.0, self._sent_at + VIEWS_INTERVAL_S - time.monotonic())):
                return
            self.views_changed.clear()
            try:
                self.send_views()
            except Exception:  # the next snapshot tries again; a worker says how old its views are
                log.exception("views not sent to the read workers")


class NumberedWrites:
    """ASGI, on the leader: a write's answer says the channel's number once it was done (:data:`SEQ_HEADER`); a
    write to vehicles or gates sends the views it changed first (the loop's snapshot took the change at once)."""

    def __init__(self, app: ASGIApp, publisher: ChannelPublisher) -> None:
        self.app, self.publisher = app, publisher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        changes_views = scope["path"].startswith(VIEWS_PATHS)

        async def numbered(message: Message) -> None:
            if message["type"] == "http.response.start":
                if changes_views:
                    await run_in_threadpool(self.publisher.send_views, True)
                MutableHeaders(scope=message)[SEQ_HEADER] = str(self.publisher.seq)
            await send(message)

        await self.app(scope, receive, numbered)


class ChannelFeed:
    """In a read worker: takes the leader's messages into ``views`` and drops ``order_reads``' kept answers."""

    def __init__(self, endpoint: str, views: RelayedViews, order_reads: OrderReads, order_bus: EventBus) -> None:
        self.endpoint, self.views, self.order_reads, self.order_bus = endpoint, views, order_reads, order_bus
        self.health_json: bytes | None = None  # the loop's /health answer, as last heard
        self.heard_at = -float("inf")  # (monotonic) the last message
        self._seq = 0
        self._heard = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="read-channel-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def silent_for(self) -> float:
        """Seconds since the leader was last heard."""
        return time.monotonic() - self.heard_at

    def live_health(self) -> bytes | None:
        """The leader's /health answer as last heard; None if never heard or silent for over :data:`SILENT_S`."""
        return self.health_json if self.silent_for() <= SILENT_S else None

    def wait_for(self, seq: int, timeout_s: float) -> bool:
        """Wait until message ``seq`` (or a later one) is heard; False after ``timeout_s`` (then every kept
        order answer is dropped: the next read goes to the store)."""
        with self._heard:
            heard = self._heard.wait_for(lambda: self._seq >= seq, timeout_s)
        if not heard:
            self.order_reads.forget()
        return heard

    def wait_for_views(self, timeout_s: float) -> bool:
        """Wait until the first views are heard; False after ``timeout_s``."""
        with self._heard:
            return self._heard.wait_for(lambda: self.health_json is not None, timeout_s)

    def _run(self) -> None:
        socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVHWM, 100_000)
        socket.setsockopt(zmq.SUBSCRIBE, b"")
        socket.connect(self.endpoint)
        try:
            while not self._stop.is_set():
                if socket.poll(200):
                    self._take(socket.recv_multipart())
        finally:
            socket.close()

    def _take(self, frames: list[bytes]) -> None:
        kind, seq = frames[0], int(frames[1])
        if seq != self._seq + 1:  # missed some (or the first heard): what is kept may be older than them
            self.order_reads.forget()
        if kind == b"order":
            self.order_bus.publish(Topic.ORDER, {"order_id": frames[2].decode(), "from": frames[3].decode() or None})
        elif kind == b"views":
            header = json.loads(frames[2])
            self.views.update(header["taken_at"], frames[3], frames[4])
            self.health_json = json.dumps(header["health"]).encode()
        with self._heard:
            self._seq, self.heard_at = seq, time.monotonic()
            self._heard.notify_all()
