"""A private MQTT broker (Debian's mosquitto) on a loopback port, for ``xborder agents --mqtt``, the tests and
the benchmark: nothing persisted, anonymous clients, only 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sim.processes import free_port, spawn, stop


class BrokerError(RuntimeError):
    """mosquitto is missing or did not start."""


class Broker:
    """``with Broker() as broker:`` a running mosquitto at ``broker.port``; stopped on exit."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="xborder-mqtt-")

    def start(self) -> Broker:
        binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if binary is None:
            raise BrokerError("mosquitto is not installed (Debian package mosquitto; `make setup` installs it)")
        config = Path(self._dir.name) / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                          "max_queued_messages 10000\n")
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

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace_s=5)
        self._dir.cleanup()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
