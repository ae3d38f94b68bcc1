"""The demo's own config (``var/demo.yaml``): the default deployment's keys and tokens with the demo's fleet."""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

from fleet.config import load_settings
from sim.processes import free_port
from sim.service_process import default_deployment


def test_the_demo_config_loads_from_a_relative_var_folder(tmp_path, monkeypatch):
    """Found by `make demo` in a fresh clone: with ``--var var`` the key paths were written relative and then
    read from the config's own folder (var/var/keys/...), so the service refused to start."""
    monkeypatch.chdir(tmp_path)
    fleet = {"link": "ros", "vehicles": [{"id": "agv_001", "home": "VN", "start_node": "vn_parking_1"}]}
    service = default_deployment(Path("var"), fleet, http=18080, router_port=18560)
    settings = load_settings(service.config)
    assert [v.id for v in settings.fleet.vehicles] == ["agv_001"] and settings.fleet.simulated == 0
    assert settings.server.port == 18080 and settings.customs.zmq.router == "tcp://127.0.0.1:18560"
    assert settings.store.path == tmp_path / "var" / "demo.db"
    tokens = yaml.safe_load((tmp_path / "var" / "tokens.yaml").read_text())
    assert service.tokens == tokens and {t.token for t in settings.auth.tokens} == set(tokens.values())
    assert (service.config.stat().st_mode & 0o777) == 0o600  # it names the tokens


def test_the_demo_customs_ports_are_found_free_together():
    """The demo's customs ROUTER takes the port it is given and its PUB the next one: both must be free (CI saw
    the PUB's port taken by another test's connection)."""
    for _ in range(20):
        port = free_port(consecutive=2)
        with socket.socket() as router, socket.socket() as pub:
            router.bind(("127.0.0.1", port))
            pub.bind(("127.0.0.1", port + 1))
