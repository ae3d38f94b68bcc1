"""The live stream's hub: bus messages fanned out to WebSocket clients, each with its own bounded queue.

The bus delivers on the publisher's thread (the dispatcher, the ZeroMQ server, an HTTP worker), so the hub
only hands each message to the event loop; there it goes into every subscribed client's queue. A client
whose queue is full is dropped rather than waited for: a slow console never holds up the fleet or the other
clients. Vehicle states (the dispatcher publishes a vehicle's view when it changed) are throttled per vehicle
(at most one every ``vehicle_interval_s``); the latest state held back is sent when its turn comes, so the
last word about a vehicle is never lost. A client that connects gets every vehicle's latest state first.
A client's queue holds a few seconds of the whole fleet's states (:meth:`StreamHub.for_fleet`): with 200
vehicles a fixed 256 was 0.6 s, and a console on a busy machine was dropped and had to start again
(tests/bench/bench_console.py saw it).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fleet.events import EventBus, Topic

Message = tuple[str, dict[str, Any]]


@dataclass(eq=False)
class StreamClient:
    topics: frozenset[str]
    queue: asyncio.Queue[Message | None]
    dropped: bool = field(default=False)

    def offer(self, topic: str, message: dict[str, Any]) -> None:
        if self.dropped or topic not in self.topics:
            return
        try:
            self.queue.put_nowait((topic, message))
        except asyncio.QueueFull:
            self.drop()

    def drop(self) -> None:
        """Stop this client: its reader gets None once what is queued is read (or at once if the queue is full)."""
        self.dropped = True
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()


class StreamHub:
    #: a client may fall this far behind the fleet's vehicle states (s) before it is dropped
    SLACK_S = 5.0

    @classmethod
    def for_fleet(cls, bus: EventBus, vehicles: int, vehicle_interval_s: float = 0.5,
                  clock: Callable[[], float] = time.monotonic) -> StreamHub:
        """A hub whose clients' queues hold ``SLACK_S`` of ``vehicles``' states (and never fewer than 256)."""
        return cls(bus, queue_size=max(256, math.ceil(cls.SLACK_S * vehicles / vehicle_interval_s)),
                   vehicle_interval_s=vehicle_interval_s, clock=clock)

    def __init__(self, bus: EventBus, queue_size: int = 256, vehicle_interval_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bus, self.queue_size = bus, queue_size
        self.vehicle_interval_s, self.clock = vehicle_interval_s, clock
        self.clients: set[StreamClient] = set()
        self._sent_at: dict[str, float] = {}  # vehicle id -> when its state last went out
        self._held: dict[str, dict[str, Any]] = {}  # vehicle id -> the latest state held back
        self._latest: dict[str, dict[str, Any]] = {}  # vehicle id -> its latest state sent
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._inbox: list[Message] = []  # from other threads, for the event loop (see _from_bus)
        self._inbox_lock = threading.Lock()
        self._drain_scheduled = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.bus.subscribe(self._from_bus)
        self._flusher = asyncio.create_task(self._flush_held())

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._flusher:
            self._flusher.cancel()
        for client in list(self.clients):
            client.drop()

    def connect(self, topics: Iterable[str]) -> StreamClient:
        client = StreamClient(frozenset(topics), asyncio.Queue(self.queue_size))
        self.clients.add(client)
        for message in self._latest.values():
            client.offer(Topic.VEHICLE, message)
        return client

    def disconnect(self, client: StreamClient) -> None:
        self.clients.discard(client)

    def _from_bus(self, topic: str, message: dict[str, Any]) -> None:
        """On the publisher's thread: into the inbox, and the event loop woken once for a whole burst (a tick
        publishes up to a fleet's vehicle views). A wake-up per message cost the dispatch loop's thread 12 % of
        its samples in bench_fleet: each is a write to the event loop's pipe, after which the thread waits its
        turn for the GIL again."""
        if topic != Topic.VEHICLE and not self.clients:
            return  # nobody to tell (vehicle states are kept for whoever connects): the event loop sleeps on
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with self._inbox_lock:
            self._inbox.append((topic, message))
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        loop.call_soon_threadsafe(self._drain_inbox)

    def _drain_inbox(self) -> None:
        with self._inbox_lock:
            messages, self._inbox = self._inbox, []
            self._drain_scheduled = False
        for topic, message in messages:
            self.publish(topic, message)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """On the event loop: fan one message out (a vehicle state only if its vehicle's turn has come)."""
        if topic == Topic.VEHICLE:
            vehicle_id = str(message.get("id") or message.get("vehicle_id"))
            now = self.clock()
            if now - self._sent_at.get(vehicle_id, -float("inf")) < self.vehicle_interval_s:
                self._held[vehicle_id] = message
                return
            self._sent_at[vehicle_id] = now
            self._held.pop(vehicle_id, None)
            self._latest[vehicle_id] = message
        for client in list(self.clients):
            client.offer(topic, message)

    async def _flush_held(self) -> None:
        while True:
            await asyncio.sleep(self.vehicle_interval_s / 2)
            for vehicle_id, message in list(self._held.items()):
                if self.clock() - self._sent_at.get(vehicle_id, 0.0) >= self.vehicle_interval_s:
                    self.publish(Topic.VEHICLE, message)
