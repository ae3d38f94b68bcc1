"""Refusals kept to a bounded cost: a fixed-size audit record each, and a per-peer rate limit
(fleet.refusal_limit: 60 KB forgeries at 1,400/s wrote ~46 GB of audit log an hour; the rest are counted, and the
count is written as one ``refusals_suppressed`` record, "N more refused", when the peer is next recorded or on the
gate's periodic tick).
"""

from __future__ import annotations

import re
from typing import Any

from fleet.customs.envelope import AUTHORITY_PATTERN, UUID_PATTERN

MAX_REASON_CHARS = 300
MAX_EXCERPT_CHARS = 256


def safe_text(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, always encodable as UTF-8 (lone surrogates escaped)."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def refusal_body(fields: dict[str, Any], raw: bytes, reason: str, via: str, peer: str) -> dict[str, Any]:
    """The audit record of a refusal: every field bounded, whatever the input was."""
    event_id, authority, seq = fields.get("event_id"), fields.get("authority"), fields.get("seq")
    return {
        "reason": safe_text(reason, MAX_REASON_CHARS), "via": via, "peer": safe_text(peer, 64),
        "event_id": event_id if isinstance(event_id, str) and re.match(UUID_PATTERN, event_id) else None,
        "authority": authority if isinstance(authority, str) and re.match(AUTHORITY_PATTERN, authority) else None,
        "seq": seq if type(seq) is int and 0 <= seq < 2**63 else None,
        "size": len(raw), "raw": safe_text(raw[:MAX_EXCERPT_CHARS * 4].decode("utf-8", "replace"), MAX_EXCERPT_CHARS),
    }
