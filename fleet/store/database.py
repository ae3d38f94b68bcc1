"""The fleet's store: SQLAlchemy Core over one SQLite file (WAL) by default, PostgreSQL by URL.

Opening a store upgrades its schema to the newest Alembic revision, so a store written by one version opens
in the next. Every write is a transaction; :meth:`Store.transaction` hands out the connection so that a
service can change its own tables and append to the audit log atomically (an order transition and its
audit record, say).

Writers are serialized, on both engines, so that every read-check-write in a transaction (the audit chain's
head, an order's state before its transition, an authority's event seq) sees the last committed state and
no update is lost, whichever process or thread writes: SQLite by ``BEGIN IMMEDIATE``, PostgreSQL by a
transaction-scoped advisory lock taken first (READ COMMITTED, so each later statement sees what the writer
before committed). SERIALIZABLE isolation would need every caller to retry its whole block on a
serialization failure, which a context manager cannot do. Readers never wait (WAL, MVCC). The audit head is
read inside the writing transaction, never cached across transactions.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import stat
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from fleet.store.audit import GENESIS, AuditRecord, body_of, canonical_body, missing_triggers, record_hash_of_text
from fleet.store.fixed import FixedStatement, run_on_cursor
from fleet.store.schema import audit_log, clearance_snapshots, customs_events
from fleet.store.writer_lock import WriterLock

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


#: the advisory lock every PostgreSQL write transaction holds until it ends (any fixed 64-bit key)
WRITER_LOCK = 0x7862_6F72_6465_72  # "xborder"


class StoreError(RuntimeError):
    """The store cannot be opened or written (a bad URL, a locked or corrupt file, a lost server)."""


class NotLeaderError(StoreError):
    """A write refused by the fencing check: this process does not (or no longer) hold the leadership."""


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    authority: str
    seq: int
    digest: str
    raw: dict[str, Any] | None  # None: the stored text is not JSON a parser can read (evidence of tampering)
    received_at: float
    audit_seq: int | None = None  # the seq of its event_accepted audit record
    text: str = ""  # the stored text as it is (kept as evidence when the row is not applied)


@dataclass
class NewEvent:
    """An accepted customs event as it is written: its JSON text exactly as received."""

    event_id: str
    authority: str
    seq: int
    digest: str
    text: str
    received_at: float
    audit_seq: int | None = None  # set once its event_accepted record is appended


@dataclass(frozen=True)
class StoredSnapshot:
    audit_seq: int  # the seq of its own `snapshot` audit record
    state: str


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _make_private(path: Path) -> None:
    """Keep an SQLite store's files owner-only (0600, whatever the umask): they hold customs events, the audit log,
    orders and staff actions. A file not there yet is created empty and 0600; SQLite gives its -wal and -shm the
    database file's mode. Existing files are tightened (:func:`_tighten`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _tighten([path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")])
        return
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken bits from the owner too
    finally:
        os.close(fd)


def _tighten(paths: list[Path]) -> None:
    """Make 0600 those of ``paths`` that group or others may read or write (an older version created the store
    0644, world-readable), said in one line; a file this process does not own (or cannot change) is left as it
    is, with a warning."""
    tightened = []
    for path in paths:
        try:
            info = path.stat()
        except FileNotFoundError:  # no -wal or -shm: the store was closed cleanly
            continue
        mode = stat.S_IMODE(info.st_mode)
        if not mode & 0o077:
            continue
        if info.st_uid != os.geteuid():
            log.warning("%s is mode %o, open to other users, and owned by uid %d, not this process (uid %d): left "
                        "as it is; make it 0600 by hand", path, mode, info.st_uid, os.geteuid())
            continue
        try:
            os.chmod(path, 0o600)
        except OSError as exc:
            log.warning("%s is mode %o, open to other users, and could not be made 0600: %s", path, mode, exc)
            continue
        tightened.append(f"{path.name} (was {mode:o})")
    if tightened:
        log.warning("the store's files were open to other users, now 0600 (owner only) in %s: %s", paths[0].parent,
                    ", ".join(tightened))


def store_url(location: str | Path) -> str:
    """A database URL from a URL or a path (a path means an SQLite file there)."""
    text = str(location)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


class Store:
    """Thread-safe access to the fleet's database.

    Parameters
    ----------
    location : a SQLAlchemy URL (``postgresql+psycopg://...``) or the path of an SQLite file.
    busy_timeout_s : how long an SQLite writer waits for another's lock before failing.
    """

    def __init__(self, location: str | Path, busy_timeout_s: float = 5.0) -> None:
        self.url = store_url(location)
        if self.url.startswith("sqlite:///"):
            try:
                _make_private(Path(self.url.removeprefix("sqlite:///")))
            except OSError as exc:  # a read-only folder, a full disk, a file where a folder should be
                raise StoreError(f"cannot open the store {self.url}: {exc.strerror}: {exc.filename}") from None
        try:
            self.engine: Engine = sa.create_engine(self.url, connect_args=connect_args(self.url, busy_timeout_s),
                                                   pool_pre_ping=not self.url.startswith("sqlite"))
        except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
            raise StoreError(f"store URL {self.url!r}: {exc}") from None
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.engine, "begin", _begin_sqlite)
        self._lock = WriterLock()
        #: ``with store.urgent():`` this thread's writes go before ordinary writers waiting (fleet/store/writer_lock.py)
        self.urgent = self._lock.urgent
        self._head: tuple[int, str] | None = None  # the audit head within the open write transaction
        self._writer: Connection | None = None  # SQLite's write transactions' connection, kept (see _writing)
        #: called first in every write transaction (after the writer lock): raises to refuse the write
        self.fence: Callable[[Connection], None] | None = None
        try:
            # looked at before migrating, which could re-create a dropped trigger and so hide the evidence
            self._integrity_problems = self._missing_triggers()
            self._migrate()
        except sa.exc.DatabaseError as exc:
            raise StoreError(f"cannot open the store {self.url}: {exc.orig}") from None

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    def _migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self.engine.dispose()

    @contextmanager
    def transaction(self, fenced: bool = True) -> Iterator[Connection]:
        """One write transaction, serialized with every other writer's (see the module's docstring); the
        :attr:`fence` refuses it first if set (unless not ``fenced``: the election's own write). On error it
        rolls back and nothing was written."""
        with self._lock:
            self._head = None
            try:
                with self._writing() as conn, conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(WRITER_LOCK)))
                    if fenced and self.fence is not None:
                        self.fence(conn)
                    yield conn
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:  # locked, disk full, server lost
                raise StoreError(f"the store could not write: {exc.orig}") from exc
            finally:
                self._head = None

    def _writing(self) -> AbstractContextManager[Connection]:
        """The connection for a write transaction (under the writer lock). SQLite's writer keeps one checked out:
        taking one from the pool and giving it back cost a customs batch's transaction more than its statements
        did (profiled: 19 µs of 31 for an empty one), and the pool keeps its connections open anyway.
        PostgreSQL's is taken from the pool each time, whose pre-ping replaces one the server dropped."""
        if self.dialect != "sqlite":
            return self.engine.connect()
        if self._writer is None:
            self._writer = self.engine.connect()
        return nullcontext(self._writer)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads. On PostgreSQL it autocommits: under READ COMMITTED each statement sees the
        latest commits either way, and no BEGIN/ROLLBACK round trips are spent on it."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                conn = conn.execution_options(**{_READ_ONLY: True})
            yield conn

    # --- the audit log ----------------------------------------------------------------------------------------

    def append_audit(self, conn: Connection, kind: str, body: dict[str, Any]) -> AuditRecord:
        """Append one record inside the caller's :meth:`transaction`."""
        return self.append_audits(conn, [(kind, body)])[0]

    def audit(self, kind: str, body: dict[str, Any]) -> AuditRecord:
        with self.transaction() as conn:
            return self.append_audit(conn, kind, body)

    def audit_records(self, after: int = 0, limit: int | None = None,
                      kinds: Collection[str] = ()) -> Iterator[AuditRecord]:
        """Records with ``seq`` > ``after``, oldest first; of ``kinds`` only, if any are given."""
        query = sa.select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq)
        if kinds:
            query = query.where(audit_log.c.kind.in_([str(k) for k in kinds]))
        with self.reading() as conn:
            rows = conn.execute(query if limit is None else query.limit(limit)).all()
        for r in rows:
            yield AuditRecord(r.seq, r.recorded_at, r.kind, body_of(r.body), r.prev_hash, r.hash)

    def latest_audit(self, kind: str, matches: Callable[[dict[str, Any]], bool],
                     scan: int = 1000) -> AuditRecord | None:
        """The newest record of ``kind`` whose body ``matches``, among the last ``scan`` of that kind (a
        restart looking for what it had decided last)."""
        query = sa.select(audit_log).where(audit_log.c.kind == kind).order_by(audit_log.c.seq.desc()).limit(scan)
        with self.reading() as conn:
            rows = conn.execute(query).all()
        for r in rows:
            body = body_of(r.body)
            if matches(body):
                return AuditRecord(r.seq, r.recorded_at, r.kind, body, r.prev_hash, r.hash)
        return None

    def integrity_problems(self) -> list[str]:
        """Evidence of tampering the database showed when opened: a dropped append-only trigger (reported,
        never silently repaired — the customs gate raises it as an alarm)."""
        return list(self._integrity_problems)

    def _missing_triggers(self) -> list[str]:
        if not sa.inspect(self.engine).has_table("audit_log"):
            return []  # a new store: the migrations create the log and its triggers
        query = {"sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
                 "postgresql": "SELECT tgname FROM pg_trigger"}.get(self.engine.dialect.name)
        if query is None:
            return []
        with self.reading() as conn:
            names = [row[0] for row in conn.exec_driver_sql(query)]
        return missing_triggers(names, self.engine.dialect.name)

    @property
    def audit_head(self) -> tuple[int, str]:
        """The last committed record's (seq, hash); (0, GENESIS) for an empty log."""
        with self.reading() as conn:
            return _head_of(conn)

    # --- customs events and clearance snapshots ---------------------------------------------------------------

    def append_audits(self, conn: Connection, entries: Sequence[tuple[str, dict[str, Any]]]) -> list[AuditRecord]:
        """Append several records inside the caller's :meth:`transaction`, in one statement (each body is
        serialised once, for its hash and its row alike)."""
        records, rows = [], []
        recorded_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        seq, head = self._head if self._head is not None else _head_of(conn)  # under the writer lock: the latest
        for kind, body in entries:
            kind, seq, text = str(kind), seq + 1, canonical_body(body)  # an AuditKind is stored as its text
            digest = record_hash_of_text(seq, recorded_at, kind, text, head)
            records.append(AuditRecord(seq, recorded_at, kind, body, head, digest))
            rows.append({"seq": seq, "recorded_at": recorded_at, "kind": kind, "prev_hash": head, "hash": digest,
                         "body": text})
            head = digest
        self._head = (seq, head)
        _INSERT_AUDIT.many(conn, rows)
        return records

    def write_events(self, conn: Connection, events: list[NewEvent]) -> None:
        """Insert accepted customs events inside the caller's :meth:`transaction`, in one statement (the
        customs link commits a batch at a time)."""
        _INSERT_EVENT.many(conn, [
            {"event_id": e.event_id, "authority": e.authority, "seq": e.seq, "digest": e.digest, "raw": e.text,
             "received_at": e.received_at, "audit_seq": e.audit_seq} for e in events])

    def delete_events(self, conn: Connection, event_ids: list[str]) -> None:
        """Delete stored event rows inside the caller's :meth:`transaction`: rows the replay could not apply,
        which a verified resend of the event replaces (``CustomsGate``; the audit record keeps their text)."""
        conn.execute(customs_events.delete().where(customs_events.c.event_id.in_(event_ids)))

    def known_events(self, conn: Connection, event_ids: list[str], seqs: list[tuple[str, int]]
                     ) -> tuple[dict[str, str], dict[tuple[str, int], str]]:
        """Of the events stored: the digest of each of ``event_ids``, and the event_id holding each of
        ``seqs`` ((authority, seq)) — what a batch needs to find duplicates and equivocations, by index,
        inside the caller's :meth:`transaction`."""
        by_authority: dict[str, set[int]] = {}
        for authority, seq in seqs:
            by_authority.setdefault(authority, set()).add(seq)
        ids = set(event_ids)
        digests: dict[str, str] = {}
        holders: dict[tuple[str, int], str] = {}
        if not ids and not by_authority:
            return digests, holders
        parameters: dict[str, Any] = {f"id_{number}": event_id for number, event_id in enumerate(ids)}
        for number, (authority, numbers) in enumerate(by_authority.items()):
            parameters[f"authority_{number}"] = authority
            parameters |= {f"seq_{number}_{index}": seq for index, seq in enumerate(numbers)}
        shape = (len(ids), tuple(len(numbers) for numbers in by_authority.values()))
        for event_id, authority, seq, digest in _known_events_query(shape).rows(conn, parameters):
            if event_id in ids:
                digests[event_id] = digest
            if seq in by_authority.get(authority, ()):
                holders[(authority, seq)] = event_id
        return digests, holders

    def events(self, after_audit_seq: int | None = None) -> list[StoredEvent]:
        """Every stored event; or those after audit record ``after_audit_seq`` (with any that name no audit
        record: rows the fleet did not write, for the caller to refuse)."""
        query = sa.select(customs_events).order_by(customs_events.c.received_at, customs_events.c.event_id)
        if after_audit_seq is not None:
            query = query.where(sa.or_(customs_events.c.audit_seq > after_audit_seq,
                                       customs_events.c.audit_seq.is_(None)))
        with self.reading() as conn:
            rows = conn.execute(query).all()
        return [StoredEvent(r.event_id, r.authority, r.seq, r.digest, _json_or_none(r.raw), r.received_at,
                            r.audit_seq, r.raw) for r in rows]

    def count_events(self, through_audit_seq: int) -> int:
        """How many stored events name an audit record up to ``through_audit_seq``."""
        with self.reading() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(customs_events)
                                    .where(customs_events.c.audit_seq <= through_audit_seq)).scalar_one())

    def write_snapshot(self, conn: Connection, audit_seq: int, state: str, taken_at: float, keep: int = 2) -> None:
        """Store a clearance snapshot inside the caller's :meth:`transaction`; keep the newest ``keep``."""
        conn.execute(clearance_snapshots.insert().values(audit_seq=audit_seq, state=state, taken_at=taken_at))
        stale = sa.select(clearance_snapshots.c.audit_seq).order_by(clearance_snapshots.c.audit_seq.desc()) \
            .limit(1).offset(keep).scalar_subquery()
        conn.execute(clearance_snapshots.delete().where(clearance_snapshots.c.audit_seq <= stale))

    def latest_snapshot(self) -> StoredSnapshot | None:
        with self.reading() as conn:
            row = conn.execute(sa.select(clearance_snapshots.c.audit_seq, clearance_snapshots.c.state)
                               .order_by(clearance_snapshots.c.audit_seq.desc()).limit(1)).first()
        return StoredSnapshot(row[0], row[1]) if row else None


@functools.lru_cache(maxsize=64)
def _known_events_query(shape: tuple[int, tuple[int, ...]]) -> FixedStatement:
    """The stored events with one of ``id_0``, ``id_1``... or, for each authority ``authority_<a>``, one of its
    ``seq_<a>_0``, ``seq_<a>_1``...: one statement, each branch answered from an index. ``shape``: (how many
    ids, how many seqs of each authority); a day's batches have a handful of shapes, each compiled once."""
    ids, authorities = shape
    c = customs_events.c
    wanted: list[sa.ColumnElement[bool]] = [c.event_id.in_([sa.bindparam(f"id_{i}") for i in range(ids)])] \
        if ids else []
    wanted += [sa.and_(c.authority == sa.bindparam(f"authority_{a}"),
                       c.seq.in_([sa.bindparam(f"seq_{a}_{i}") for i in range(seqs)]))
               for a, seqs in enumerate(authorities)]
    return FixedStatement(sa.select(c.event_id, c.authority, c.seq, c.digest).where(sa.or_(*wanted)))


#: the audit records and customs events a batch appends: one executemany of the driver
_INSERT_AUDIT = FixedStatement(audit_log.insert(), ["seq", "recorded_at", "kind", "prev_hash", "hash", "body"])
_INSERT_EVENT = FixedStatement(customs_events.insert(),
                               ["event_id", "authority", "seq", "digest", "raw", "received_at", "audit_seq"])
#: the audit log's last record, read before every append
_HEAD = FixedStatement(sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1))


def _head_of(conn: Connection) -> tuple[int, str]:
    rows = _HEAD.rows(conn)
    return (rows[0][0], rows[0][1]) if rows else (0, GENESIS)


def connect_args(url: str, busy_timeout_s: float) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"timeout": busy_timeout_s, "check_same_thread": False, "isolation_level": None}
    if url.startswith("postgresql"):
        # libpq's TCP keepalives: a server that vanished (cable cut, host down) is noticed in seconds, not hours
        # lock_timeout: a writer waits for another's writer lock as long as SQLite's busy timeout, then fails
        return {"connect_timeout": max(1, round(busy_timeout_s)), "keepalives": 1, "keepalives_idle": 2,
                "keepalives_interval": 1, "keepalives_count": 3, "tcp_user_timeout": 5000,
                "options": f"-c lock_timeout={round(busy_timeout_s * 1000)}"}
    return {}


#: the execution option that marks a :meth:`Store.reading` connection (its SQLite transaction takes no lock)
_READ_ONLY = "xborder_read_only"


def _begin_sqlite(conn: Connection) -> None:
    """A write transaction takes the file's write lock at once (``BEGIN IMMEDIATE``: its reads then see the last
    commit, see the module's docstring); a read begins deferred, which in WAL mode never waits for a writer.
    Reads took the write lock too until bench_fleet showed them waiting behind every write under way."""
    run_on_cursor(conn, "BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns, so an ACK survives a power loss (the customs link
    # commits a whole batch of events at once, which keeps that affordable)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
