"""A per-peer rate limit on recording refusals: a peer that floods refused messages (customs events, vehicle
messages) gets a token bucket, ``burst`` records at once and ``rate_per_s`` after that; the rest are counted and
reported with the next one recorded."""

from __future__ import annotations

from dataclasses import dataclass


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
