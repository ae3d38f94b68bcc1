"""Run ``xborder serve`` as a separate process on free loopback ports, for tests and benchmarks.

It writes a config with the given authorities' public keys (Ed25519, and CURVE when given), the fleet's own
customs keys (generated into the work folder: ``fleet.key``/``fleet.pub``, ``fleet.curve.key``/``fleet.curve.pub``),
one bearer token per authority and per staff role (:func:`token_for`), and the fleet section given (default:
no vehicles, in-process link: no DDS), starts the service, waits until /health answers, and can SIGKILL and
restart it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from fleet.roles import STAFF_ROLES
from sim.customs_authority import AuthorityLink, LinkKeys

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token_for(role: str) -> str:
    return f"{role.replace(':', '-').lower()}-token-0123456789"


class ServiceProcess:
    def __init__(self, workdir: Path, public_keys: dict[str, str], link_timeout_s: float = 600.0,
                 fleet: dict[str, Any] | None = None, map_folder: Path | None = None,
                 curve_public_keys: dict[str, str] | None = None, checkpoint_every: int = 100,
                 server: dict[str, Any] | None = None, store: dict[str, Any] | None = None,
                 config_name: str = "fleet") -> None:
        from fleet.customs.signing import generate_keys
        from fleet.transports.curve import generate_curve_keys

        self.http, self.router_port, self.pub_port = free_port(), free_port(), free_port()
        self.router, self.pub = f"tcp://127.0.0.1:{self.router_port}", f"tcp://127.0.0.1:{self.pub_port}"
        self.db = workdir / f"{config_name}.db"
        self.config = workdir / f"{config_name}.yaml"
        roles = [f"customs:{name}" for name in public_keys] + list(STAFF_ROLES)
        if (workdir / "fleet.key").exists():  # a second fleet manager of the same deployment: the same keys
            self.fleet_key, self.fleet_pub = workdir / "fleet.key", workdir / "fleet.pub"
            self.fleet_curve_key, self.fleet_curve_pub = workdir / "fleet.curve.key", workdir / "fleet.curve.pub"
        else:
            self.fleet_key, self.fleet_pub = generate_keys("fleet", workdir)
            self.fleet_curve_key, self.fleet_curve_pub = generate_curve_keys("fleet", workdir)
        curve = curve_public_keys or {}
        self.config.write_text(yaml.safe_dump({
            "server": {"host": "127.0.0.1", "port": self.http, **(server or {})},
            "store": store or {"path": str(self.db)},
            **({"map": str(map_folder.resolve())} if map_folder else {}),
            "fleet": fleet or {"link": "inprocess"},
            "customs": {"link_timeout_s": link_timeout_s, "zmq": {"router": self.router, "pub": self.pub},
                        "fleet": {"signing_key": str(self.fleet_key), "curve_key": str(self.fleet_curve_key)},
                        "checkpoint": {"every_records": checkpoint_every, "every_s": 10.0},
                        "authorities": {name: {"public_key": key, "side": name[:2],
                                               **({"curve_public_key": curve[name]} if name in curve else {})}
                                        for name, key in public_keys.items()}},
            "auth": {"tokens": [{"token": token_for(role), "role": role} for role in roles]}}))
        self.base = f"http://127.0.0.1:{self.http}/api/v1"
        self.process: subprocess.Popen | None = None

    def simulator_args(self, key_dir: Path, authority: str) -> list[str]:
        """``xborder customs simulate`` options that connect ``authority`` over CURVE (its keys in ``key_dir``)."""
        return ["--connect", self.router, "--curve-key", str(key_dir / f"{authority}.curve.key"),
                "--server-key", str(self.fleet_curve_pub), "--fleet-key", str(self.fleet_pub)]

    def authority_link(self, key_dir: Path, authority: str) -> AuthorityLink:
        """A CURVE DEALER for ``authority`` (its keys in ``key_dir``) that checks the fleet's signature on replies."""
        keys = LinkKeys.from_files(key_dir / f"{authority}.curve.key", self.fleet_curve_pub, self.fleet_pub)
        return AuthorityLink(self.router, keys)

    def launch(self) -> ServiceProcess:
        """Start the process without waiting for it to serve (a standby serves once it leads)."""
        self.process = subprocess.Popen([str(BIN / "xborder"), "serve", "--config", str(self.config)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def start(self, timeout_s: float = 30.0) -> ServiceProcess:
        self.launch()
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"xborder serve exited: {self.process.stdout.read().decode()}")
            if self.healthy():
                return self
            time.sleep(0.1)
        raise TimeoutError("xborder serve did not answer /health in time")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or close anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def get(self, path: str, **params: Any) -> Any:
        reply = httpx.get(self.base + path, params=params, timeout=10,
                          headers={"Authorization": f"Bearer {token_for('viewer')}"})
        reply.raise_for_status()
        return reply.json()
