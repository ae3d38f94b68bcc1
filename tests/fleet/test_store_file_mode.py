"""The SQLite store's files are the owner's only (0600), whatever the umask: they hold the audit log, staff actions
and what tokens did (found by hand: ``var/xborder.db`` was created 0644, world-readable)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest

from fleet.store import Store


@pytest.fixture(params=[0o022, 0o000], ids=["umask 022", "umask 000"])
def umask(request) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_a_new_store_and_its_wal_and_shm_are_owner_only(tmp_path, umask):
    db = tmp_path / "var" / "xborder.db"
    store = Store(db)
    try:
        with store.reading() as conn:  # the migration wrote through the WAL; a reader maps the -shm
            conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar()
            files = [db, db.with_name("xborder.db-wal"), db.with_name("xborder.db-shm")]
            assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == {
                path.name: 0o600 for path in files}
    finally:
        store.close()
