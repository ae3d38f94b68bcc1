"""A private MQTT broker (Debian's mosquitto) on a loopback port, for ``xborder agents --mqtt``, the tests and
the benchmark: nothing persisted, only 127.0.0.1; anonymous clients, or (``users``) a password for each and the
fleet's access list (:mod:`fleet.vehicles.mqtt_access`), as a site's broker is set up."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from fleet.vehicles.mqtt_access import mosquitto_acl
from sim.processes import free_port, spawn, stop


class BrokerError(RuntimeError):
    """mosquitto is missing or did not start."""


class Broker:
    """``with Broker() as broker:`` a running mosquitto at ``broker.port``; stopped on exit."""

    def __init__(self, port: int | None = None, users: Mapping[str, str] | None = None,
                 tls: tuple[Path, Path] | None = None) -> None:
        """``users``: user name -> password; none: anonymous clients may do anything. ``tls``: the broker's
        certificate and key files (PEM): it then speaks TLS only."""
        self.port = port or free_port()
        self.users = dict(users or {})
        self.tls = tls
        self.process: subprocess.Popen | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="xborder-mqtt-")

    def start(self) -> Broker:
        binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if binary is None:
            raise BrokerError("mosquitto is not installed (Debian package mosquitto; `make setup` installs it)")
        config = Path(self._dir.name) / "mosquitto.conf"
        # started as root, mosquitto becomes user mosquitto before it reads its files, in a folder only we may read
        me = pwd.getpwuid(os.getuid()).pw_name
        config.write_text(f"listener {self.port} 127.0.0.1\npersistence false\nmax_queued_messages 10000\n"
                          f"user {me}\n" + (self._access() if self.users else "allow_anonymous true\n")
                          + (f"certfile {self.tls[0]}\nkeyfile {self.tls[1]}\n" if self.tls else ""))
        log = Path(self._dir.name) / "mosquitto.log"  # a file, not a pipe: nobody reads it while it runs
        with log.open("wb") as sink:
            self.process = spawn([binary, "-c", str(config)], stdout=sink, stderr=sink)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"mosquitto exited: {log.read_text(errors='replace')[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on 127.0.0.1:{self.port} within 10 s")

    def _access(self) -> str:
        """The password file (hashed by mosquitto_passwd, from the same package) and the access list."""
        passwords, acl = Path(self._dir.name) / "passwords", Path(self._dir.name) / "acl"
        passwords.write_text("".join(f"{user}:{password}\n" for user, password in self.users.items()))
        hasher = shutil.which("mosquitto_passwd")
        if hasher is None:
            raise BrokerError("mosquitto_passwd is not installed (Debian package mosquitto)")
        subprocess.run([hasher, "-U", str(passwords)], check=True, capture_output=True)
        acl.write_text(mosquitto_acl())
        return f"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}\n"

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace_s=5)
        self._dir.cleanup()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
