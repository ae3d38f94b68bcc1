"""Active/standby: which of several fleet managers on one PostgreSQL store acts (dispatches, takes customs
events, drives vehicles). PostgreSQL decides, no home-made consensus:

* **Election**: a session-level advisory lock (``pg_try_advisory_lock``) held on a connection of its own.
  The server releases it the moment that session ends: the leader's process died (its socket closed), or
  the server's TCP keepalives found the leader's host gone (``tcp_keepalives_*``, a few seconds).
* **Fencing**: whoever takes the lock bumps the epoch in the one-row ``leadership`` table; every write
  transaction of a leader checks, under the store's writer lock, that the epoch is still its own (the
  store's :attr:`~fleet.store.Store.fence`). A deposed leader's late write — it was paused, or cut off and
  not yet aware — finds a newer epoch and is refused with :class:`NotLeaderError`; a standby writes nothing.
* **Stepping down**: a leader that cannot confirm its lock for ``lease_s`` (the database unreachable) stops
  acting by itself, before a standby can have taken over on the server's side, rather than act on state
  that may be stale.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from fleet.store.database import NotLeaderError, Store, StoreError, connect_args
from fleet.store.schema import leadership

log = logging.getLogger(__name__)

#: the advisory lock whose holder leads (any fixed 64-bit key, distinct from the store's writer lock)
LEADER_LOCK = 0x7862_6C65_6164_6572  # "xbleader"


def _holds_lock(conn: Connection) -> bool:
    """Whether this session holds the leader lock, as the server sees it."""
    return bool(conn.execute(sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
        "AND classid = :high AND objid = :low"), {"high": LEADER_LOCK >> 32, "low": LEADER_LOCK & 0xFFFFFFFF}).scalar())


@dataclass(frozen=True)
class LeaderState:
    epoch: int
    holder: str
    since: float


class Leadership:
    """Campaign for the leadership of ``store`` as ``node``; call ``on_change(True/False)`` as it is won or lost.

    Until it leads, the store refuses every write (reads go on: a standby serves them).
    """

    def __init__(self, store: Store, node: str, on_change: Callable[[bool], None] = lambda _leading: None,
                 poll_s: float = 0.5, lease_s: float = 3.0) -> None:
        if store.dialect != "postgresql":
            raise StoreError(f"leader election needs a PostgreSQL store (store.url), not {store.dialect}")
        self.store, self.node, self.on_change = store, node, on_change
        self.poll_s, self.lease_s = poll_s, lease_s
        self.epoch: int | None = None
        # the lock's own connection: never pooled (a pool would hand it back and the lock with it)
        self._engine = sa.create_engine(store.url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                        connect_args=connect_args(store.url, busy_timeout_s=2.0))
        self._conn: Connection | None = None
        self._confirmed = 0.0  # monotonic time the lock was last confirmed held
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leadership", daemon=True)
        store.fence = self._fence

    @property
    def leading(self) -> bool:
        return self.epoch is not None

    def start(self) -> Leadership:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Give the leadership up (a clean shutdown: the standby takes over at its next poll); the owner
        stopping it is not told (``on_change``)."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._step_down("stopping", notify=False)
        self._engine.dispose()

    def current(self) -> LeaderState | None:
        """Who leads according to the store (the last epoch taken), read like any standby read."""
        with self.store.reading() as conn:
            row = conn.execute(sa.select(leadership).where(leadership.c.id == 1)).first()
        return LeaderState(row.epoch, row.holder, row.since) if row else None

    # --- the campaign -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.leading:
                    self._hold()
                else:
                    self._campaign()
            except Exception:
                log.exception("leadership loop")
            self._stop.wait(self.poll_s)

    def _campaign(self) -> None:
        try:
            won = self._ask(lambda conn: bool(conn.execute(
                sa.select(sa.func.pg_try_advisory_lock(LEADER_LOCK))).scalar()))
        except Exception as exc:
            log.debug("campaign: %s", exc)
            self._drop_connection()
            return
        if not won:
            return
        try:
            self.epoch = self._take_epoch()
        except Exception:
            self._drop_connection()  # lets the lock go: another may try
            raise
        self._confirmed = time.monotonic()
        log.warning("%s leads (epoch %d)", self.node, self.epoch)
        self.on_change(True)

    def _take_epoch(self) -> int:
        """Bump the epoch under the writer lock: once this commits, every older leader's write is refused."""
        with self.store.transaction(fenced=False) as conn:
            row = conn.execute(sa.select(leadership.c.epoch).where(leadership.c.id == 1)).first()
            epoch = (row.epoch if row else 0) + 1
            values = {"epoch": epoch, "holder": self.node, "since": time.time()}
            if row:
                conn.execute(leadership.update().where(leadership.c.id == 1).values(**values))
            else:
                conn.execute(leadership.insert().values(id=1, **values))
        return epoch

    def _hold(self) -> None:
        """Confirm the lock's session is alive; past ``lease_s`` without a confirmation, step down."""
        try:
            if self._ask(_holds_lock, connect=False):
                self._confirmed = time.monotonic()
            else:
                self._step_down("the server no longer counts the lock as ours")
                return
        except Exception as exc:
            log.warning("%s cannot confirm its leadership: %s", self.node, exc)
        if time.monotonic() - self._confirmed > self.lease_s:
            self._step_down(f"lock not confirmed for {self.lease_s:.1f} s")

    def _step_down(self, why: str, notify: bool = True) -> None:
        if self.epoch is None:
            return
        log.warning("%s steps down (epoch %d): %s", self.node, self.epoch, why)
        self.epoch = None
        self._drop_connection()
        if notify:
            self.on_change(False)

    def _ask(self, query: Callable[[Connection], object], connect: bool = True) -> object:
        """Run ``query`` on the lock's connection, giving up after a second at most (a cut network can hang a
        socket for longer than the lease). Without ``connect``, a lost connection is an error: a new session
        would not hold the old one's lock."""
        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                if self._conn is None:
                    if not connect:
                        raise StoreError("the lock's connection was lost")
                    self._conn = self._engine.connect()
                outcome["value"] = query(self._conn)
            except Exception as exc:
                outcome["error"] = exc
                self._drop_connection()  # a failed session is never reused: the next ask opens a new one

        worker = threading.Thread(target=run, name="leadership-probe", daemon=True)
        worker.start()
        worker.join(timeout=max(self.poll_s, 1.0))
        if worker.is_alive():
            self._drop_connection()
            raise TimeoutError("no answer from the database")
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # never a clean "unlock" over a socket that may be dead
            except Exception:
                pass

    # --- fencing ------------------------------------------------------------------------------------------------

    def _fence(self, conn: Connection) -> None:
        """Inside every write transaction, after the writer lock: refuse unless our epoch is the newest."""
        epoch = self.epoch
        if epoch is None:
            raise NotLeaderError(f"{self.node} is a standby: only the leader writes")
        current = conn.execute(sa.select(leadership.c.epoch).where(leadership.c.id == 1)).scalar()
        if current != epoch:
            raise NotLeaderError(f"{self.node} was deposed (its epoch {epoch}, the store's {current}): write refused")
