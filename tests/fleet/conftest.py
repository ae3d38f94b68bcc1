"""Customs fixtures: two authorities with real Ed25519 keys, a gate on a real store (an SQLite file; a
PostgreSQL database too where a test is marked ``both_backends``), a settable clock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from fleet.customs.gate import Authority, CustomsGate
from fleet.customs.signing import EventSigner, generate_keys, load_private_key, parse_public_key
from fleet.events import EventBus
from fleet.store import Store
from fleet.transports.curve import generate_curve_keys

T0 = 1_795_000_000.0  # 2026-11-18, a fixed "now" for the tests


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Customs:
    clock: Clock
    vn: EventSigner
    cn: EventSigner
    authorities: list[Authority]
    db_path: object  # an SQLite file's path or a PostgreSQL URL (``store_location``)
    published: list

    def gate(self) -> CustomsGate:
        return CustomsGate(self.authorities, Store(self.db_path), link_timeout_s=60.0, clock=self.clock,
                           publish=lambda topic, message: self.published.append((topic, message)))

    def gate_on(self, store: Store, bus: EventBus) -> CustomsGate:
        """A gate on ``store`` that publishes to ``bus`` (and records what it published)."""
        bus.subscribe(lambda topic, message: self.published.append((topic, message)))
        return CustomsGate(self.authorities, store, link_timeout_s=60.0, clock=self.clock, publish=bus.publish)


@contextmanager
def holding_write_lock(location) -> Iterator[None]:
    """Another process's connection holds the store's write lock meanwhile (SQLite's RESERVED lock, or the
    PostgreSQL writer lock every write transaction takes first)."""
    if "://" not in str(location):
        blocker = sqlite3.connect(location, isolation_level=None, timeout=0)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    import psycopg
    import sqlalchemy as sa

    from fleet.store.database import WRITER_LOCK

    url = sa.make_url(location)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as blocker:
        blocker.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
        yield


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    for name in ("VN_CUSTOMS", "CN_CUSTOMS", "MALLORY"):
        generate_keys(name, folder)
        generate_curve_keys(name, folder)
    return folder


@pytest.fixture
def customs(store_location, key_dir) -> Customs:
    clock = Clock()
    authorities = [Authority(name, side, parse_public_key((key_dir / f"{name}.pub").read_text()))
                   for name, side in (("VN_CUSTOMS", "VN"), ("CN_CUSTOMS", "CN"))]
    return Customs(clock,
                   EventSigner("VN_CUSTOMS", load_private_key(key_dir / "VN_CUSTOMS.key"), clock=clock),
                   EventSigner("CN_CUSTOMS", load_private_key(key_dir / "CN_CUSTOMS.key"), clock=clock),
                   authorities, store_location, [])


@pytest.fixture
def gate(customs):
    return customs.gate()


@pytest.fixture
def signers(key_dir) -> dict[str, EventSigner]:
    """Both authorities' signers on the real clock (for tests against a running service)."""
    return {name: EventSigner(name, load_private_key(key_dir / f"{name}.key")) for name in ("VN_CUSTOMS", "CN_CUSTOMS")}
