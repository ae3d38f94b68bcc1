"""Run ``xborder serve`` as a separate process, for the demo, tests and benchmarks.

:class:`FleetService` is one running service, known by its config file, its endpoints, the fleet's public keys
and a token per role; it starts the process (in a process group of its own, tied to this process: see
:mod:`sim.processes`), waits until /health answers, and can SIGKILL and restart it. Two ways to set one up:

- :class:`ServiceProcess` (tests, benchmarks): a config on free loopback ports with the given authorities' public
  keys (Ed25519, and CURVE when given), the fleet's own customs keys generated into the work folder
  (``fleet.key``/``fleet.pub``, ``fleet.curve.key``/``fleet.curve.pub``), one fixed bearer token per authority and
  per staff role (:func:`token_for`), and the fleet section given (default: no vehicles, in-process link: no DDS);
- :func:`default_deployment` (``xborder demo``): the embedded default's keys and demo tokens under ``var/``
  (:func:`fleet.defaults.default_settings`, exactly as ``xborder serve`` without a config makes them), with the
  fleet section and ports given.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from fleet.roles import STAFF_ROLES
from sim.customs_authority import AuthorityLink, LinkKeys
from sim.processes import free_port, spawn, stop

BIN = Path(sys.executable).parent


def token_for(role: str) -> str:
    return f"{role.replace(':', '-').lower()}-token-0123456789"


@dataclass
class FleetService:
    """``xborder serve --config config``: its HTTP port, customs ROUTER, the fleet's public keys (replies and
    PUB messages are checked against them) and a bearer token per role."""

    config: Path
    http: int
    router: str
    pub: str
    fleet_pub: Path  # Ed25519, PEM
    fleet_curve_pub: Path  # CURVE, Z85
    tokens: dict[str, str]  # role -> token
    process: subprocess.Popen | None = None
    log: IO[bytes] | None = None  # where its output goes, kept for a restart
    env: dict[str, str] | None = None  # its environment (default: this process's), e.g. a DDS profile's

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http}/api/v1"

    def headers(self, role: str = "viewer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def simulator_args(self, key_dir: Path, authority: str) -> list[str]:
        """``xborder customs simulate`` options that connect ``authority`` over CURVE (its keys in ``key_dir``)."""
        return ["--connect", self.router, "--curve-key", str(key_dir / f"{authority}.curve.key"),
                "--server-key", str(self.fleet_curve_pub), "--fleet-key", str(self.fleet_pub)]

    def authority_link(self, key_dir: Path, authority: str) -> AuthorityLink:
        """A CURVE DEALER for ``authority`` (its keys in ``key_dir``) that checks the fleet's signature on replies."""
        keys = LinkKeys.from_files(key_dir / f"{authority}.curve.key", self.fleet_curve_pub, self.fleet_pub)
        return AuthorityLink(self.router, keys)

    def launch(self, log: IO[bytes] | None = None) -> FleetService:
        """Start the process without waiting for it to serve (a standby serves once it leads). Its output goes to
        ``log``, kept for restarts (default: a pipe, read only if it fails to start: a long run must give a file,
        or the unread pipe fills up and blocks it)."""
        self.log = log or self.log
        self.process = spawn([str(BIN / "xborder"), "serve", "--config", str(self.config)],
                             stdout=self.log or subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env)
        return self

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def start(self, timeout_s: float = 120.0, log: IO[bytes] | None = None) -> FleetService:
        """Start it and wait for /health. It answers in about 2 s on a quiet machine; the default allows for a CI
        machine whose five test streams start twenty-odd processes at once on two cores (one took over 30 s)."""
        self.launch(log)
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else self._output_tail()
                raise RuntimeError(f"xborder serve exited: {output}")
            if self.healthy():
                return self
            time.sleep(0.1)
        raise TimeoutError(f"xborder serve did not answer /health in {timeout_s:.0f} s; {self._output_tail()}")

    def _output_tail(self, lines: int = 20) -> str:
        """The last lines of its output, for an error message (its log file; a pipe is not read while it runs)."""
        if self.log is None or not Path(self.log.name).exists():
            return "its output goes to a pipe, read when it exits"
        self.log.flush()
        tail = Path(self.log.name).read_text(errors="replace").splitlines()[-lines:]
        return f"the end of {self.log.name}:\n" + "\n".join(tail)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or close anything."""
        assert self.process is not None
        stop(self.process, grace_s=0)

    def stop(self) -> None:
        if self.process:
            stop(self.process)

    def get(self, path: str, **params: Any) -> Any:
        reply = httpx.get(self.base + path, params=params, timeout=10, headers=self.headers("viewer"))
        reply.raise_for_status()
        return reply.json()


class ServiceProcess(FleetService):
    """A service on free loopback ports with a config of its own in ``workdir`` (tests and benchmarks)."""

    def __init__(self, workdir: Path, public_keys: dict[str, str], link_timeout_s: float = 600.0,
                 fleet: dict[str, Any] | None = None, map_folder: Path | None = None,
                 curve_public_keys: dict[str, str] | None = None, checkpoint_every: int = 100,
                 server: dict[str, Any] | None = None, store: dict[str, Any] | None = None,
                 config_name: str = "fleet") -> None:
        from fleet.customs.signing import generate_keys
        from fleet.transports.curve import generate_curve_keys

        http, router_port, pub_port = free_port(), free_port(), free_port()
        router, pub = f"tcp://127.0.0.1:{router_port}", f"tcp://127.0.0.1:{pub_port}"
        self.router_port, self.pub_port = router_port, pub_port
        self.db = workdir / f"{config_name}.db"
        roles = [f"customs:{name}" for name in public_keys] + list(STAFF_ROLES)
        if (workdir / "fleet.key").exists():  # a second fleet manager of the same deployment: the same keys
            self.fleet_key, fleet_pub = workdir / "fleet.key", workdir / "fleet.pub"
            self.fleet_curve_key, fleet_curve_pub = workdir / "fleet.curve.key", workdir / "fleet.curve.pub"
        else:
            self.fleet_key, fleet_pub = generate_keys("fleet", workdir)
            self.fleet_curve_key, fleet_curve_pub = generate_curve_keys("fleet", workdir)
        curve = curve_public_keys or {}
        config = workdir / f"{config_name}.yaml"
        config.write_text(yaml.safe_dump({
            "server": {"host": "127.0.0.1", "port": http, **(server or {})},
            "store": store or {"path": str(self.db)},
            **({"map": str(map_folder.resolve())} if map_folder else {}),
            "fleet": fleet or {"link": "inprocess"},
            "customs": {"link_timeout_s": link_timeout_s, "zmq": {"router": router, "pub": pub},
                        "fleet": {"signing_key": str(self.fleet_key), "curve_key": str(self.fleet_curve_key)},
                        "checkpoint": {"every_records": checkpoint_every, "every_s": 10.0},
                        "authorities": {name: {"public_key": key, "side": name[:2],
                                               **({"curve_public_key": curve[name]} if name in curve else {})}
                                        for name, key in public_keys.items()}},
            "auth": {"tokens": [{"token": token_for(role), "role": role} for role in roles]}}))
        super().__init__(config, http, router, pub, fleet_pub, fleet_curve_pub,
                         {role: token_for(role) for role in roles})


def default_deployment(var: Path, fleet: dict[str, Any], http: int = 8080, router_port: int = 5560,
                       map_folder: Path | None = None) -> FleetService:
    """The embedded default deployment (its keys and demo tokens in ``var``, made when missing) with ``fleet``
    merged into its fleet section, on the given ports, with a store of its own (``var/demo.db``, emptied):
    written to ``var/demo.yaml`` (owner-only, it names the tokens)."""
    from fleet.defaults import FLEET_KEY, default_settings, write_private

    var = var.resolve()  # the config's relative paths would be read from its own folder, var/ itself
    boot = default_settings(var)
    settings = boot.settings.model_dump(mode="json", exclude_none=True)
    settings["server"]["port"] = http
    settings["customs"]["zmq"] = {"router": f"tcp://127.0.0.1:{router_port}",
                                  "pub": f"tcp://127.0.0.1:{router_port + 1}"}
    settings["fleet"] = {**{k: v for k, v in settings["fleet"].items() if k != "simulated"}, **fleet}
    if map_folder:
        settings["map"] = str(map_folder.resolve())
    db = var / "demo.db"
    for stale in var.glob("demo.db*"):  # the simulators number their events from 1 again: a fresh store
        stale.unlink()
    settings["store"] = {"path": str(db)}
    config = var / "demo.yaml"
    write_private(config, yaml.safe_dump(settings, sort_keys=False))
    tokens = yaml.safe_load(boot.tokens_file.read_text(encoding="utf-8"))
    return FleetService(config, http, settings["customs"]["zmq"]["router"], settings["customs"]["zmq"]["pub"],
                        boot.keys_dir / f"{FLEET_KEY}.pub", boot.keys_dir / f"{FLEET_KEY}.curve.pub", tokens)
