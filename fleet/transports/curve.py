"""CURVE for the customs ZeroMQ link: key files, and a ZAP handler that admits configured authorities only.

Key files hold Z85 text (40 characters): ``NAME.curve.key`` the secret key (mode 600), ``NAME.curve.pub``
the public key — the form the config takes. The fleet's ROUTER and PUB are CURVE servers; every authority
is a CURVE client whose public key is in the config, and the handshake refuses any other key. The ZAP
handler names the authenticated peer by its authority name (ZeroMQ's ``User-Id``), so the ROUTER knows
who sent a message without trusting anything in it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import zmq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from zmq.auth.thread import ThreadAuthenticator

log = logging.getLogger(__name__)

Z85_KEY_LENGTH = 40
ZAP_DOMAIN = "xborder-customs"


class CurveKeyError(ValueError):
    """A CURVE key (file) that is not one."""


def check_curve_key(text: str) -> bytes:
    """The Z85 bytes of a CURVE key, or :class:`CurveKeyError`."""
    key = text.strip().encode("ascii", "replace")
    if len(key) != Z85_KEY_LENGTH:
        raise CurveKeyError(f"a CURVE key is {Z85_KEY_LENGTH} Z85 characters, this one {len(key)}")
    try:
        zmq.utils.z85.decode(key)
    except (ValueError, KeyError, IndexError) as exc:
        raise CurveKeyError(f"not a Z85 CURVE key: {exc}") from None
    return key


def generate_curve_keys(name: str, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``name.curve.key`` (secret, mode 600) and ``name.curve.pub``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.curve_keypair()
    key_path, pub_path = out / f"{name}.curve.key", out / f"{name}.curve.pub"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret + b"\n")
    pub_path.write_text(public.decode() + "\n")
    return key_path, pub_path


@dataclass(frozen=True)
class CurvePair:
    public: bytes  # Z85
    secret: bytes  # Z85

    @classmethod
    def from_secret_file(cls, path: str | Path) -> CurvePair:
        secret = check_curve_key(Path(path).read_text(encoding="ascii", errors="replace"))
        return cls(zmq.curve_public(secret), secret)


@dataclass(frozen=True)
class LinkSecurity:
    """What the fleet needs to run its side of the link securely.

    ``clients`` maps each admitted CURVE public key (Z85) to the authority it belongs to; ``signing_key``
    is the fleet's own Ed25519 key, which signs every reply and everything published.
    """

    server: CurvePair
    clients: Mapping[bytes, str]
    signing_key: Ed25519PrivateKey


class _AuthorityAuthenticator(ThreadAuthenticator):
    """ZAP: admit a CURVE client only if its key is configured, and name it by its authority."""

    def __init__(self, context: zmq.Context, clients: Mapping[bytes, str]) -> None:
        super().__init__(context)
        self._clients = dict(clients)

    def callback(self, domain: str, key: bytes) -> bool:
        admitted = key in self._clients
        if not admitted:
            log.warning("customs link: CURVE handshake refused for unknown key %s", key.decode(errors="replace"))
        return admitted

    def curve_user_id(self, client_public_key: bytes) -> str:
        return self._clients[zmq.utils.z85.encode(client_public_key)]


def start_authenticator(context: zmq.Context, clients: Mapping[bytes, str]) -> ThreadAuthenticator:
    """Start the ZAP handler for ``context`` (one per context); stop it with ``.stop()``."""
    auth = _AuthorityAuthenticator(context, clients)
    auth.start()
    auth.configure_curve_callback(ZAP_DOMAIN, credentials_provider=auth)
    return auth


def make_server(socket: zmq.Socket, pair: CurvePair) -> None:
    """Make ``socket`` (before bind) a CURVE server that asks ZAP about every client."""
    socket.curve_secretkey = pair.secret
    socket.curve_publickey = pair.public
    socket.curve_server = True
    socket.zap_domain = ZAP_DOMAIN.encode()


def make_client(socket: zmq.Socket, own: CurvePair, server_public: bytes) -> None:
    """Make ``socket`` (before connect) a CURVE client of the server with ``server_public``."""
    socket.curve_secretkey = own.secret
    socket.curve_publickey = own.public
    socket.curve_serverkey = server_public
