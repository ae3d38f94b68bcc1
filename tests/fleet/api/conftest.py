"""API fixtures: the services as ``xborder serve`` builds them (a real SQLite file, real ZeroMQ sockets on
free ports) with an in-process fleet on the tests' clock, a TestClient over the app, and one token per role."""

from __future__ import annotations

import pytest
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
