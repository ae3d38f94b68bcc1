"""API fixtures: the services as ``xborder serve`` builds them (a real SQLite file, real ZeroMQ sockets on
free ports) with an in-process fleet on the tests' clock, a TestClient over the app, and one token per role."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from fleet.api.main import create_app
from fleet.config import Settings
from fleet.roles import STAFF_ROLES, customs_role
from fleet.services import build_services
from fleet.vehicles.inprocess import InProcessLink

AUTHORITIES = ("VN_CUSTOMS", "CN_CUSTOMS")
ROLES = (*STAFF_ROLES, *(customs_role(a) for a in AUTHORITIES))
VEHICLES = 4


def token(role: str) -> str:
    return f"{role.replace(':', '-')}-token-0123456789"


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role)}"}


def store_config(location) -> dict[str, str]:
    """The ``store`` section for an SQLite path or a database URL."""
    return {"url": location} if "://" in str(location) else {"path": str(location)}


@pytest.fixture
def settings(store_location, key_dir) -> Settings:
    return Settings.model_validate({
        "store": store_config(store_location),
        "fleet": {"link": "inprocess", "simulated": VEHICLES},
        "customs": {"zmq": {"router": "tcp://127.0.0.1:*", "pub": "tcp://127.0.0.1:*"},
                    "authorities": {name: {"public_key_file": str(key_dir / f"{name}.pub"), "side": name[:2]}
                                    for name in AUTHORITIES}},
        "auth": {"tokens": [{"token": token(role), "role": role} for role in ROLES]}})


@pytest.fixture
def link(customs) -> InProcessLink:
    """The simulated vehicles, standing still on the tests' clock (nothing moves unless a test advances it)."""
    return InProcessLink(customs.clock)


@pytest.fixture
def services(settings, link, customs):
    services = build_services(settings, link=link, clock=customs.clock)
    for vehicle in services.registry.all():
        node = services.corridor.nodes[vehicle.start_node]
        link.spawn(vehicle.id, node.x, node.y, services.corridor.heading_into(node.id), node.id)
    yield services
    services.close()


@pytest.fixture
def client(services):
    with TestClient(create_app(services)) as test_client:
        yield test_client


def _free_port() -> int:
    """A free loopback port in 20000-29999 (others run services on this machine too)."""
    for port in random.sample(range(20000, 30000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-29999")


@pytest.fixture
def served(services) -> Iterator[str]:
    """The app served by uvicorn on a loopback port: its base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=_free_port(),
                                           log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    services.dispatcher.stop()  # its ticks driven here, on the tests' clock
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(30)


@pytest.fixture
def docks(services) -> dict[str, list[str]]:
    """Each side's docks, by id."""
    from planner.corridor import NodeKind

    return {side: sorted(n.id for n in services.corridor.nodes_of(NodeKind.DOCK, jurisdiction=side))
            for side in services.corridor.jurisdictions}


def staff_actions_of(services) -> list[dict]:
    import sqlalchemy as sa

    from fleet.store.schema import staff_actions

    with services.store.reading() as conn:
        return [r._asdict() for r in conn.execute(sa.select(staff_actions).order_by(staff_actions.c.id))]
