"""``xborder serve`` with no configuration, as a newcomer runs it: from an empty folder, it makes var/ (keys
and tokens, owner-only), says where, and serves the Bac Luan II map with a simulated fleet of 10."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from sim.processes import free_port

BIN = Path(sys.executable).parent
DEFAULT_ZMQ_PORTS = (5560, 5561)


def _busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(any(_busy(p) for p in DEFAULT_ZMQ_PORTS), reason="the default ZeroMQ ports are taken")
def test_serve_without_config(tmp_path):
    port = free_port()
    process = subprocess.Popen([str(BIN / "xborder"), "serve", "--port", str(port)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert process.poll() is None, process.stdout.read()
        tokens = yaml.safe_load((tmp_path / "var" / "tokens.yaml").read_text())
        vehicles = httpx.get(f"{base}/vehicles", headers={"Authorization": f"Bearer {tokens['viewer']}"}).json()
        assert len(vehicles) == 10
        geojson = httpx.get(f"{base}/map", headers={"Authorization": f"Bearer {tokens['viewer']}"}).json()
        assert "Bac Luan II" in geojson["name"]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"demo tokens (one per role) in {tmp_path / 'var' / 'tokens.yaml'}" in output


@pytest.mark.skipif(any(_busy(p) for p in DEFAULT_ZMQ_PORTS), reason="the default ZeroMQ ports are taken")
def test_read_workers_on_a_port_taken_are_refused_with_a_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([str(BIN / "xborder"), "serve", "--port", str(port), "--read-workers", "1"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"server: cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr


def _config(tmp_path: Path, key_dir: Path, http: int, router: int) -> Path:
    """A deployment's config with the in-process fleet, its ports given."""
    config = {
        "server": {"port": http},
        "store": {"path": str(tmp_path / "fleet.db")},
        "fleet": {"link": "inprocess", "vehicles": [{"id": "agv_001", "home": "VN", "start_node": "vn_parking_1"}]},
        "customs": {"zmq": {"router": f"tcp://127.0.0.1:{router}", "pub": f"tcp://127.0.0.1:{free_port()}"},
                    "authorities": {name: {"public_key_file": str(key_dir / f"{name}.pub"), "side": name[:2]}
                                    for name in ("VN_CUSTOMS", "CN_CUSTOMS")}},
        "auth": {"tokens": [{"token": "t" * 20, "role": "viewer"}]}}
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("taken", ["http", "router"])
def test_a_port_taken_is_refused_naming_the_field_before_anything_starts(tmp_path, key_dir, taken):
    """Another process holds the API's port or the customs ROUTER's: ``xborder serve`` says which and ends with
    code 2, as for any config that cannot work. Before, the services started first (the dispatch loop, the
    vehicle link), then uvicorn failed to bind: the ROUTER with a traceback from the app's startup, the API's
    port with uvicorn's own line, both exit code 3."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        http, router = (port, free_port()) if taken == "http" else (free_port(), port)
        config = _config(tmp_path, key_dir, http, router)
        done = subprocess.run([str(BIN / "xborder"), "serve", "--config", str(config)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    field = f"server: cannot listen on 127.0.0.1:{port}" if taken == "http" else \
        f"customs.zmq.router: cannot bind tcp://127.0.0.1:{port}"
    assert done.returncode == 2 and field in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "dispatch" not in done.stderr, done.stderr


@pytest.mark.parametrize("under", ["a file", "a read-only file system"])
def test_a_var_folder_that_cannot_be_written_is_refused_with_a_message(tmp_path, under):
    """``--var`` where the default cannot keep its keys and tokens (a file in the way; a read-only mount: /sys,
    which root cannot write either): before, an OSError traceback from fleet/defaults.py, exit 1."""
    if under == "a file":
        (tmp_path / "afile").write_text("not a folder")
        var = tmp_path / "afile" / "var"
    else:
        var = Path("/sys/xborder-var")
    done = subprocess.run([str(BIN / "xborder"), "serve", "--var", str(var), "--port", str(free_port())],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"--var {var}: cannot keep the default deployment's store, keys and tokens there" in done.stderr \
        and "Traceback" not in done.stderr, done.stderr
