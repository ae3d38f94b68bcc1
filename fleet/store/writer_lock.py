"""The store's in-process writer lock, with a fast lane for the writers that hold vehicles up.

Every write transaction of the process takes this lock first (one writer at a time, see the store's module). A
plain lock hands itself to whichever waiter the OS wakes first, and new arrivals barge in: with eight API
threads creating orders, the dispatch loop's one transaction a tick waited up to 1.4 s for its turn
(bench_fleet, "save and publish"), and a customs event's commit likewise, while a vehicle stood at its gate.

Here a writer inside :meth:`WriterLock.urgent` (the dispatch loop's tick, the customs gate's ingestion) goes
before every ordinary writer waiting: its wait is bounded by the transaction under way. Ordinary writers wait
only while urgent ones do, which the urgent writers' pace (the loop writes once a tick) bounds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class WriterLock:
    """A reentrant lock in which urgent waiters go first."""

    def __init__(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._urgent_waiting = 0
        self.waiting = 0  # threads waiting for the lock (what the store's metrics and tests look at)
        self._local = threading.local()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Within this block, the calling thread's writes go before ordinary writers'."""
        before = getattr(self._local, "urgent", False)
        self._local.urgent = True
        try:
            yield
        finally:
            self._local.urgent = before

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        me = threading.get_ident()
        urgent = getattr(self._local, "urgent", False)
        with self._state:
            if self._owner == me:
                self._depth += 1
                return
            self.waiting += 1
            self._urgent_waiting += urgent
            try:
                while self._owner is not None or (not urgent and self._urgent_waiting):
                    self._state.wait()
            finally:
                self.waiting -= 1
                self._urgent_waiting -= urgent
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._state:
            if self._owner != threading.get_ident():
                raise RuntimeError("the store's writer lock released by a thread that does not hold it")
            self._depth -= 1
            if not self._depth:
                self._owner = None
                self._state.notify_all()
