"""The SQLite store's files are the owner's only (0600), whatever the umask: they hold the audit log, staff actions
and what tokens did (found by hand: ``var/xborder.db`` was created 0644, world-readable)."""

from __future__ import annotations

import logging
import os
import sqlite3
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


def _old_store(db) -> sqlite3.Connection:
    """An SQLite store as an older version left it: the database and its -wal and -shm 0644, world-readable (an
    open connection keeps the -wal and -shm there). The caller closes it."""
    Store(db).close()
    old = sqlite3.connect(db)
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("SELECT count(*) FROM audit_log").fetchone()
    for path in _files(db):
        path.chmod(0o644)
    return old


def _files(db) -> list:
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def _modes(db) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in _files(db)}


def test_an_existing_world_readable_store_is_made_owner_only(tmp_path, caplog):
    """Found by hand: an existing var/xborder.db (customs events, audit records, orders) made 0644 by an older
    version stayed world-readable for good, -wal and -shm too. Opening it now tightens all three to 0600, and says
    so in one line."""
    db = tmp_path / "xborder.db"
    old = _old_store(db)
    try:
        with caplog.at_level(logging.INFO, logger="fleet.store.database"):
            Store(db).close()
        assert _modes(db) == {path.name: 0o600 for path in _files(db)}
        said = [r.getMessage() for r in caplog.records if "0600" in r.getMessage()]
        assert len(said) == 1 and all(path.name in said[0] for path in _files(db)), said
    finally:
        old.close()


def test_a_store_file_of_another_owner_is_left_with_a_warning(tmp_path, caplog, monkeypatch):
    """A file this process does not own cannot be tightened by it: the store opens, and a warning says what to do."""
    db = tmp_path / "xborder.db"
    old = _old_store(db)
    try:
        monkeypatch.setattr(os, "geteuid", lambda: db.stat().st_uid + 1)
        with caplog.at_level(logging.WARNING, logger="fleet.store.database"):
            Store(db).close()
        assert _modes(db)[db.name] == 0o644
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and db.name in r.getMessage()]
        assert warned and "0600" in warned[0] and "not this process" in warned[0], warned
    finally:
        old.close()


def test_a_private_store_is_left_as_it_is(tmp_path, caplog):
    db = tmp_path / "xborder.db"
    Store(db).close()
    with caplog.at_level(logging.INFO, logger="fleet.store.database"):
        Store(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert not [r for r in caplog.records if r.name == "fleet.store.database"]


def test_a_store_path_that_cannot_be_made_is_a_store_error(tmp_path):
    """A store under a folder that cannot be made or written (a read-only mount, a file where the folder should
    be): ``xborder serve --db`` ended in a traceback (OSError from making the file owner-only), not a refusal."""
    from fleet.store import StoreError

    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(StoreError, match=r"cannot open the store .*afile"):
        Store(tmp_path / "afile" / "fleet.db")
