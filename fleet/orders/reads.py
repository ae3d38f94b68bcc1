"""What the order read routes answer, as JSON, kept until an order changes.

On the leader every order change goes through :class:`OrderService`, which publishes it on the bus
(``Topic.ORDER``) once committed: an order's answer is kept until that order changes, a page until an order is
created or one it shows (or may show: a page filtered by state or vehicle) changes, so that consoles polling the
same pages cost one store read per change, not one per request. A read worker (fleet/api/read_workers.py) hears
the changes over its channel from the leader's process. A standby's store is written by another process, whose
changes it does not hear: it gets no bus and reads the store every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from fleet.events import EventBus, Topic
from fleet.orders.model import OrderPublic, OrderState
from fleet.orders.service import OrderService

#: The most orders a page holds.
MAX_PAGE = 500
#: Kept answers beyond this many are dropped all at once (a console pages through thousands of orders).
MAX_KEPT = 4096


@dataclass(frozen=True)
class PageQuery:
    """Which page of orders: the filters and the window (also the key its answer is kept under)."""

    state: OrderState | None = None
    direction: str | None = None
    vehicle_id: str | None = None
    consignment: str | None = None  # the orders that carry it
    overdue: bool = False  # past the latest delivery: time alone changes it, so such a page is never kept
    limit: int = 50
    offset: int = 0


@dataclass
class _Read:
    """A store read under way: who asks for the same answer while it runs waits for it instead of reading too."""

    generation: int  # the order changes heard when it began: it answers whoever asks before the next one
    done: threading.Event = field(default_factory=threading.Event)
    body: bytes | None = None  # None once done: the read failed, each reads for itself (and gets its error)


class OrderPage(BaseModel):
    orders: list[OrderPublic]
    total: int
    limit: int
    offset: int


class OrderReads:
    def __init__(self, orders: OrderService, bus: EventBus | None) -> None:
        self.orders = orders
        self._keeps = bus is not None
        self._lock = threading.Lock()
        self._generation = 0  # order changes heard so far: an answer read before one is not kept after it
        self._pages: dict[PageQuery, bytes] = {}
        self._one: dict[str, bytes] = {}
        self._reading: dict[PageQuery | str, _Read] = {}
        if bus is not None:
            bus.subscribe(self._changed, topics=(Topic.ORDER,))

    def _changed(self, _topic: str, message: dict[str, Any]) -> None:
        order_id = str(message.get("order_id", ""))
        with self._lock:
            self._generation += 1
            self._one.pop(order_id, None)
            if message.get("from") is None:  # a new order (or not said): every page may shift, every total grow
                self._pages.clear()
                return
            # a transition changes the pages that show the order, and those filtered by what a transition changes;
            # pages are ordered by creation, so the others stay as they are (a console's first page, polled by
            # many, is not read again for every order that moves elsewhere)
            shown = f'"{order_id}"'.encode()
            for query in [q for q, body in self._pages.items() if q.state or q.vehicle_id or shown in body]:
                del self._pages[query]

    def forget(self) -> None:
        """Drop every kept answer (a read worker that may have missed some order's change)."""
        with self._lock:
            self._generation += 1
            self._pages.clear()
            self._one.clear()

    def one_json(self, order_id: str) -> bytes:
        """The order with its timeline; OrderError (404) if there is none."""
        return self._kept(self._one, order_id, lambda: self.orders.get(order_id).model_dump_json().encode())

    def kept_one(self, order_id: str) -> bytes | None:
        """:meth:`one_json` if it is kept, else None: no store read (the API answers it on its event loop)."""
        return self._found(self._one, order_id)

    def page_json(self, query: PageQuery) -> bytes:
        """A page of orders, newest first, without timelines, and how many match in all."""
        def read() -> bytes:
            page, total = self.orders.list(state=query.state, direction=query.direction, vehicle_id=query.vehicle_id,
                                           consignment=query.consignment,
                                           overdue=query.overdue, limit=query.limit, offset=query.offset)
            answer = OrderPage(orders=page, total=total, limit=query.limit, offset=query.offset)
            return answer.model_dump_json().encode()

        return read() if query.overdue else self._kept(self._pages, query, read)

    def kept_page(self, query: PageQuery) -> bytes | None:
        """:meth:`page_json` if it is kept, else None: no store read."""
        return self._found(self._pages, query)

    def _found(self, kept: dict[Any, bytes], key: Any) -> bytes | None:
        with self._lock:
            return kept.get(key)

    def _kept(self, kept: dict[Any, bytes], key: PageQuery | str, read: Callable[[], bytes]) -> bytes:
        if not self._keeps:
            return read()
        with self._lock:
            found, generation = kept.get(key), self._generation
            if found is not None:
                return found
            under_way = self._reading.get(key)
            if under_way is None or under_way.generation != generation:  # none, or begun before a change
                under_way = self._reading[key] = _Read(generation)
                mine = True
            else:
                mine = False
        if not mine:
            # 50 consoles polling the first page after a change: one read, not 50 (bench_fleet's read workers)
            under_way.done.wait()
            return under_way.body if under_way.body is not None else read()
        try:
            under_way.body = read()
        finally:
            with self._lock:
                if self._reading.get(key) is under_way:
                    del self._reading[key]
                # no change came while it was read: it is still the answer
                if under_way.body is not None and generation == self._generation:
                    if len(kept) >= MAX_KEPT:
                        kept.clear()
                    kept[key] = under_way.body
            under_way.done.set()
        return under_way.body
