"""Ed25519 keys and signatures for customs events.

Key files: ``NAME.key`` holds the private key (PKCS#8 PEM), ``NAME.pub`` the base64 of the raw 32-byte
public key — the form the fleet's config file takes. Keys are read and written with ``cryptography``;
signatures are checked and made with libsodium (PyNaCl), the cheaper of the two per call (measured: verify
0.63 to 0.68, sign 0.78 of ``cryptography``'s CPU time; tests/bench/bench_customs.py) and the stricter verifier
(it also refuses small-order keys and non-canonical signatures, which no honest signer makes). Ed25519 is
deterministic: both libraries give the same signature for the same key and message.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from fleet.customs.envelope import format_time, signed_bytes


def generate_keys(authority: str, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``authority.key`` (private, mode 600) and ``authority.pub``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    key_path, pub_path = out / f"{authority}.key", out / f"{authority}.pub"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    pub_path.write_text(public_key_b64(key.public_key()) + "\n")
    return key_path, pub_path


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_key_b64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def parse_public_key(b64: str) -> Ed25519PublicKey:
    """A public key from the base64 of its 32 raw bytes; ValueError if it is not one."""
    try:
        raw = base64.b64decode(b64.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"public key is not base64: {exc}") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key has 32 bytes, this one {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign_event(fields: dict[str, Any], key: Ed25519PrivateKey | Signer) -> dict[str, Any]:
    """Return ``fields`` with its ``signature``: base64 Ed25519 over the canonical JSON of the rest (a
    :class:`Signer` of the key signs the same, cheaper when it signs many)."""
    unsigned = {k: v for k, v in fields.items() if k != "signature"}
    return {**unsigned, "signature": base64.b64encode(key.sign(signed_bytes(unsigned))).decode()}


def signature_valid(raw: dict[str, Any], key: Ed25519PublicKey, message: bytes | None = None) -> bool:
    """Does ``raw["signature"]`` verify with ``key``? ``message``: ``signed_bytes(raw)`` if already computed."""
    try:
        signature = base64.b64decode(str(raw.get("signature", "")), validate=True)
        VerifyKey(key.public_bytes_raw()).verify(signed_bytes(raw) if message is None else message, signature)
    except (BadSignatureError, binascii.Error, ValueError, TypeError):  # ValueError: not 64 bytes
        return False
    return True


class Signer:
    """An Ed25519 private key that signs with libsodium (the fleet's replies and PUB messages, one per event)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = SigningKey(key.private_bytes_raw())  # derives the key pair once, not per signature

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of ``message``."""
        return self._key.sign(message).signature


class EventSigner:
    """Writes an authority's signed events with consecutive ``seq`` numbers (simulator and tests)."""

    def __init__(self, authority: str, key: Ed25519PrivateKey, first_seq: int = 1,
                 clock: Callable[[], float] = time.time) -> None:
        self.authority, self.key, self.clock = authority, key, clock
        self._signer = Signer(key)  # the same signature as sign_event's (Ed25519 is deterministic), cheaper
        self._seq = itertools.count(first_seq)

    def event(self, type: str, consignment_id: str | None = None, vehicle_id: str | None = None,
              direction: str | None = None, payload: dict[str, Any] | None = None, *, seq: int | None = None,
              issued_at: float | None = None, event_id: str | None = None) -> dict[str, Any]:
        fields = {
            "event_id": event_id or str(uuid.uuid4()),
            "authority": self.authority,
            "seq": next(self._seq) if seq is None else seq,
            "issued_at": format_time(datetime.fromtimestamp(self.clock() if issued_at is None else issued_at, UTC)),
            "type": type,
            "consignment_id": consignment_id,
            "vehicle_id": vehicle_id,
            "direction": direction,
            "payload": payload or {},
        }
        return sign_event(fields, self._signer)
