"""The store's writer lock: the dispatch loop's and the customs gate's writes go before the API's waiting ones.

Found in bench_fleet: with eight API threads creating orders, the loop's one write a tick waited up to 1.4 s for
the store (its tick's "save and publish"), the vehicles' order updates with it."""

from __future__ import annotations

import threading
import time

from fleet.store import Store


def _wait_for(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "the writers did not all queue for the lock"
        time.sleep(0.005)


def test_an_urgent_writer_goes_before_every_ordinary_writer_waiting(tmp_path):
    store = Store(tmp_path / "fleet.sqlite")
    held, let_go = threading.Event(), threading.Event()
    written: list[str] = []

    def holder() -> None:
        with store.transaction():
            held.set()
            let_go.wait()

    def write(name: str, urgent: bool) -> None:
        if urgent:
            with store.urgent(), store.transaction():
                written.append(name)
        else:
            with store.transaction():
                written.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    held.wait()
    for i in range(5):
        threads.append(threading.Thread(target=write, args=(f"api_{i}", False)))
        threads[-1].start()
    _wait_for(lambda: store._lock.waiting == 5)
    threads.append(threading.Thread(target=write, args=("loop", True)))
    threads[-1].start()
    _wait_for(lambda: store._lock.waiting == 6)
    let_go.set()
    for thread in threads:
        thread.join(10)
    assert written[0] == "loop" and sorted(written[1:]) == [f"api_{i}" for i in range(5)], written


def test_the_writer_lock_is_reentrant_and_only_its_holder_releases_it(tmp_path):
    store = Store(tmp_path / "fleet.sqlite")
    with store.urgent(), store._lock, store._lock:
        store.audit("test", {"nested": True})  # a transaction inside the lock the thread holds already
    assert store._lock.waiting == 0
    errors: list[Exception] = []
    store._lock.acquire()
    thread = threading.Thread(target=lambda: _release(store, errors))
    thread.start()
    thread.join()
    store._lock.release()
    assert errors and "does not hold it" in str(errors[0])


def _release(store: Store, errors: list[Exception]) -> None:
    try:
        store._lock.release()
    except RuntimeError as exc:
        errors.append(exc)


def test_a_read_does_not_wait_for_a_writer(tmp_path):
    """Found with py-spy in bench_fleet: every read (``store.reading()``) began its transaction as the writes
    do, with SQLite's ``BEGIN IMMEDIATE``, so it took the file's write lock and waited, in SQLite's busy handler
    (sleeps of up to 100 ms), for every write under way: an order's idempotency check, the dispatch loop reading
    the waiting orders. In WAL mode a reader needs no lock at all."""
    store = Store(tmp_path / "fleet.sqlite", busy_timeout_s=2.0)
    store.audit("test", {"before": True})
    writing, read_done = threading.Event(), threading.Event()

    def writer() -> None:
        with store.transaction() as conn:
            store.append_audit(conn, "test", {"during": True})
            writing.set()
            read_done.wait(10)  # the write stays open until the read is done (or gives up)

    thread = threading.Thread(target=writer)
    thread.start()
    writing.wait(10)
    try:
        records = list(store.audit_records())  # a read while the write is under way
    finally:
        read_done.set()
        thread.join(10)
    assert [r.body for r in records] == [{"before": True}], "the read saw something other than the last commit"
