"""Signed audit checkpoints: the fleet's word on its audit log's head, which each authority keeps.

A hash chain proves only that an exported log is *self-consistent*: whoever controls the database can
truncate it, or rewrite it and re-hash from genesis, and the result still verifies. So the fleet signs
``{audit_seq, head_hash, at}`` with its own Ed25519 key at least every N records or S seconds, publishes
it on PUB and puts the latest one in every ACK. An authority that kept checkpoints can later check an
export against them (:func:`check_export`): a checkpointed record that is missing (truncation, deletion)
or has another hash (a rewrite) is found, and the fleet cannot deny having signed the checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fleet.customs.errors import CheckpointError
from fleet.customs.signing import sign_event, signature_valid

KIND = "xborder.audit.checkpoint"


def make_checkpoint(audit_seq: int, head_hash: str, at: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed checkpoint of the audit log whose last record is ``audit_seq`` with hash ``head_hash``."""
    return sign_event({"kind": KIND, "audit_seq": audit_seq, "head_hash": head_hash, "at": at}, key)


def checked_checkpoint(data: Any, fleet_keys: Sequence[Ed25519PublicKey]) -> tuple[int, str]:
    """``(audit_seq, head_hash)`` of a checkpoint signed by one of the fleet's keys (its current one and those it
    signed with before rotating it), or :class:`CheckpointError`."""
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise CheckpointError("not an audit checkpoint")
    seq, head = data.get("audit_seq"), data.get("head_hash")
    if type(seq) is not int or seq < 0 or not isinstance(head, str):
        raise CheckpointError("malformed audit checkpoint")
    if not any(signature_valid(data, key) for key in fleet_keys):
        given = "" if len(fleet_keys) == 1 else f" (none of the {len(fleet_keys)} given)"
        raise CheckpointError(f"checkpoint at record {seq}: not signed by the fleet's key{given}")
    return seq, head


def checkpoints_from_lines(lines: Iterable[str]) -> Iterable[Any]:
    """The checkpoints in a file an authority kept: one JSON object a line — a checkpoint, or a PUB message
    or ACK that carries one under ``checkpoint``. The fleet's other messages (a PUB message of another topic, a
    reply without a checkpoint) carry none and are passed over: an authority may keep all it was sent in one file."""
    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            yield None
            continue
        if not isinstance(data, dict):
            yield data
        elif "checkpoint" in data or data.get("kind") == KIND:
            yield data.get("checkpoint", data)
        elif not _carries_no_checkpoint(data):
            yield data


def _carries_no_checkpoint(message: dict[str, Any]) -> bool:
    """A fleet message that has no checkpoint to carry: a PUB message of another topic, or a reply (a fleet that
    does not sign has none to put in it)."""
    return message.get("topic") not in (None, "checkpoint") or message.get("status") in ("ACK", "NACK")


def check_export(heads: Mapping[int, str], checkpoints: Iterable[Any],
                 fleet_keys: Sequence[Ed25519PublicKey]) -> list[str]:
    """Check an exported log (``heads``: each record's seq -> hash) against kept checkpoints, each signed by one of
    ``fleet_keys``.

    Returns every problem found, or []: a checkpoint that does not verify, a checkpointed record that is
    absent from the export (truncated or deleted), or present with another hash (rewritten).
    """
    problems: list[str] = []
    last = max(heads, default=0)
    for number, data in enumerate(checkpoints, start=1):
        try:
            seq, head = checked_checkpoint(data, fleet_keys)
        except CheckpointError as exc:
            problems.append(f"checkpoint {number}: {exc}")
            continue
        if seq == 0:
            continue
        if seq not in heads:
            where = f"the export ends at record {last}" if seq > last else "it is missing from the export"
            problems.append(f"checkpoint {number}: the fleet signed record {seq}, but {where} (truncated or deleted)")
        elif heads[seq] != head:
            problems.append(f"checkpoint {number}: record {seq} has another hash than the fleet signed "
                            "(the log was rewritten)")
    return problems
