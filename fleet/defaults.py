"""The embedded default for ``xborder serve`` without ``--config``: the bundled Bac Luan II map, a simulated
fleet at its parking spots, SQLite under ``var/``, and — made on first start, kept after — both customs key
pairs and one demo token per role, written to ``var/`` readable by the owner only."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fleet.config import ConfigError, Settings
from fleet.customs.signing import generate_keys
from fleet.roles import STAFF_ROLES, customs_role
from fleet.transports.curve import generate_curve_keys

#: The two customs services of the default deployment and their sides.
AUTHORITIES = {"VN_CUSTOMS": "VN", "CN_CUSTOMS": "CN"}
SIMULATED_VEHICLES = 10
TOKENS_FILE = "tokens.yaml"
FLEET_KEY = "fleet"  # the fleet's own key files: fleet.key / fleet.pub, fleet.curve.key / fleet.curve.pub
KEYS_DIR = "keys"


@dataclass
class Bootstrap:
    settings: Settings
    tokens_file: Path
    keys_dir: Path
    created: list[Path] = field(default_factory=list)  # what this start wrote (empty after the first)


def default_settings(var: Path) -> Bootstrap:
    """The default deployment's settings, creating its keys and tokens under ``var`` when missing. A ``var``
    that cannot be made or written (a file in the way, a read-only mount) is a :class:`ConfigError` naming it:
    before, ``xborder serve --var`` ended in an OSError traceback."""
    try:
        return _bootstrap(var)
    except OSError as exc:
        raise ConfigError(f"--var {var}: cannot keep the default deployment's store, keys and tokens there: "
                          f"{exc.strerror or exc} ({exc.filename or var})") from None


def _bootstrap(var: Path) -> Bootstrap:
    var.mkdir(parents=True, exist_ok=True)
    keys = var / KEYS_DIR
    created: list[Path] = []
    for name in (*AUTHORITIES, FLEET_KEY):
        if not (keys / f"{name}.pub").exists():
            created += generate_keys(name, keys)  # Ed25519: signs events (an authority) or replies (the fleet)
        if not (keys / f"{name}.curve.pub").exists():
            created += generate_curve_keys(name, keys)  # CURVE: the encrypted, authenticated ZeroMQ link
    tokens_file = var / TOKENS_FILE
    if not tokens_file.exists():
        roles = [*STAFF_ROLES, *(customs_role(name) for name in AUTHORITIES)]
        write_private(tokens_file, yaml.safe_dump({role: secrets.token_urlsafe(24) for role in roles}))
        created.append(tokens_file)
    for path in (keys, *keys.iterdir()):
        path.chmod(0o700 if path.is_dir() else 0o600)
    tokens = yaml.safe_load(tokens_file.read_text(encoding="utf-8"))
    settings = Settings.model_validate({
        "store": {"path": str(var / "xborder.db")},
        "fleet": {"simulated": SIMULATED_VEHICLES},
        "customs": {"fleet": {"signing_key": str(keys / f"{FLEET_KEY}.key"),
                              "curve_key": str(keys / f"{FLEET_KEY}.curve.key")},
                    "authorities": {name: {"public_key_file": str(keys / f"{name}.pub"), "side": side,
                                           "curve_public_key": (keys / f"{name}.curve.pub").read_text().strip()}
                                    for name, side in AUTHORITIES.items()}},
        "auth": {"tokens": [{"token": token, "role": role} for role, token in tokens.items()]}})
    return Bootstrap(settings, tokens_file, keys, created)


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
