"""Customs fixtures: two authorities with real Ed25519 keys, a gate on a real SQLite file, a settable clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fleet.customs.gate import Authority, CustomsGate
from fleet.customs.signing import EventSigner, generate_keys, load_private_key, parse_public_key
from fleet.events import EventBus
from fleet.store import Store
from fleet.transports.curve import generate_curve_keys

T0 = 1_795_000_000.0  # 2026-11-18, a fixed "now" for the tests


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Customs:
    clock: Clock
    vn: EventSigner
    cn: EventSigner
    authorities: list[Authority]
    db_path: object
    published: list

    def gate(self) -> CustomsGate:
        return CustomsGate(self.authorities, Store(self.db_path), link_timeout_s=60.0, clock=self.clock,
                           publish=lambda topic, message: self.published.append((topic, message)))

    def gate_on(self, store: Store, bus: EventBus) -> CustomsGate:
        """A gate on ``store`` that publishes to ``bus`` (and records what it published)."""
        bus.subscribe(lambda topic, message: self.published.append((topic, message)))
        return CustomsGate(self.authorities, store, link_timeout_s=60.0, clock=self.clock, publish=bus.publish)


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    for name in ("VN_CUSTOMS", "CN_CUSTOMS", "MALLORY"):
        generate_keys(name, folder)
        generate_curve_keys(name, folder)
    return folder


@pytest.fixture
def customs(tmp_path, key_dir) -> Customs:
    clock = Clock()
    authorities = [Authority(name, side, parse_public_key((key_dir / f"{name}.pub").read_text()))
                   for name, side in (("VN_CUSTOMS", "VN"), ("CN_CUSTOMS", "CN"))]
    return Customs(clock,
                   EventSigner("VN_CUSTOMS", load_private_key(key_dir / "VN_CUSTOMS.key"), clock=clock),
                   EventSigner("CN_CUSTOMS", load_private_key(key_dir / "CN_CUSTOMS.key"), clock=clock),
                   authorities, tmp_path / "fleet.db", [])


@pytest.fixture
def gate(customs):
    return customs.gate()


@pytest.fixture
def signers(key_dir) -> dict[str, EventSigner]:
    """Both authorities' signers on the real clock (for tests against a running service)."""
    return {name: EventSigner(name, load_private_key(key_dir / f"{name}.key")) for name in ("VN_CUSTOMS", "CN_CUSTOMS")}
