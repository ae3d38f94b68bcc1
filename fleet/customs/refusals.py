"""Refusals kept to a bounded cost: a fixed-size audit record each, and a per-peer rate limit.

A peer that floods refusals (60 KB forgeries at 1,400/s wrote ~46 GB of audit log an hour) gets a token
bucket: ``burst`` refusal records at once, ``rate_per_s`` after that; the rest are counted, and the count
is written as one ``refusals_suppressed`` record ("N more refused") when the peer is next recorded or on
the gate's periodic tick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass
class _Bucket:
    tokens: float
    updated: float
    suppressed: int = 0


class RefusalLimiter:
    """A token bucket per peer: may this peer's next refusal be recorded? (Pure; the caller gives the time.)"""

    def __init__(self, rate_per_s: float = 5.0, burst: int = 50) -> None:
        self.rate_per_s, self.burst = rate_per_s, burst
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, peer: str, now: float) -> tuple[bool, int]:
        """(record this refusal?, how many were suppressed before it and must now be reported)."""
        bucket = self._buckets.setdefault(peer, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate_per_s)
        bucket.updated = now
        if bucket.tokens < 1.0:
            bucket.suppressed += 1
            return False, 0
        bucket.tokens -= 1.0
        suppressed, bucket.suppressed = bucket.suppressed, 0
        return True, suppressed

    def drain(self) -> dict[str, int]:
        """Every peer's suppressed count not yet reported, reset to zero."""
        counts = {peer: b.suppressed for peer, b in self._buckets.items() if b.suppressed}
        for peer in counts:
            self._buckets[peer].suppressed = 0
        return counts
