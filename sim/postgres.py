"""A throwaway PostgreSQL server for tests and benchmarks: Debian's ``postgresql`` binaries, ``initdb`` and
``pg_ctl`` in a folder of its own, listening on one loopback port.

PostgreSQL refuses to run as root; as root (CI) the server runs as the ``postgres`` user the Debian package
creates (``runuser``). :func:`find_bindir` says why when the binaries are not there, so a test can skip with
that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from sim.service_process import free_port

SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (``apt-get install postgresql``)."""


def find_bindir() -> Path:
    """The newest installed server's bin folder (``/usr/lib/postgresql/<N>/bin``); :class:`PostgresUnavailable`."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise PostgresUnavailable("no PostgreSQL server binaries (pg_ctl): `apt-get install postgresql` (make test does)")


class PostgresServer:
    """One server: :meth:`start`, :meth:`url` of a fresh database, :meth:`restart`, :meth:`stop`."""

    def __init__(self, port: int | None = None) -> None:
        self.bindir = find_bindir()
        # under /tmp, not pytest's tmp_path: the server's user must reach it, and pytest's folders are root's (0700)
        folder = Path(tempfile.mkdtemp(prefix="xborder-pg-"))
        self.folder, self.data = folder, folder / "data"
        self.port = port or free_port()
        self.log = folder / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", SERVER_USER, "--"]
            shutil.chown(folder, SERVER_USER)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            # a test server: loopback only, its socket in its own folder; fsync off (an OS crash is not tested,
            # a server crash is: synchronous_commit stays on)
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{folder}'\n"
                       "fsync = off\nfull_page_writes = off\nmax_connections = 200\n"
                       "tcp_keepalives_idle = 2\ntcp_keepalives_interval = 1\ntcp_keepalives_count = 3\n")

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self._as_user, str(self.bindir / tool), *args], capture_output=True, text=True,
                                cwd=self.folder)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stdout}{result.stderr}")

    def start(self) -> PostgresServer:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean shutdown; ``immediate``: like a crash (recovery on the next start)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = name or f"xb_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str, port: int | None = None) -> str:
        """The SQLAlchemy URL of ``database`` (through ``port``, a proxy's, when given)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{port or self.port}/{database}"

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(self.admin_dsn, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
