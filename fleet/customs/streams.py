"""Gaps in an authority's event stream.

Each authority numbers its events 1, 2, 3, ... in the order it issues them. Events may arrive out of
order, so a missing seq below the latest one received is a *known gap*: an event the authority issued
(perhaps a ``hold``) that the fleet has not seen. While a gap stands the gate denies; the fleet asks the
authority to resend what is missing.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

Span = tuple[int, int]  # first and last missing seq, inclusive


@dataclass
class SeqStream:
    """The seqs received from one authority: all of 1..``complete_to``, and the sorted ones beyond it."""

    complete_to: int = 0
    beyond: list[int] = field(default_factory=list)

    def add(self, seq: int) -> None:
        if seq <= self.complete_to:
            return
        index = bisect.bisect_left(self.beyond, seq)
        if index < len(self.beyond) and self.beyond[index] == seq:
            return
        self.beyond.insert(index, seq)
        while self.beyond and self.beyond[0] == self.complete_to + 1:
            self.complete_to = self.beyond.pop(0)

    def remove(self, seq: int) -> None:
        """Take back a seq that was added but not stored (the write failed)."""
        if seq in self.beyond:
            self.beyond.remove(seq)
        elif seq <= self.complete_to:
            self.beyond = [*range(seq + 1, self.complete_to + 1), *self.beyond]
            self.complete_to = seq - 1

    def gaps(self, limit: int = 10) -> tuple[Span, ...]:
        """The first ``limit`` spans of missing seqs below the latest received."""
        spans: list[Span] = []
        expected = self.complete_to + 1
        for seq in self.beyond:
            if seq > expected:
                spans.append((expected, seq - 1))
                if len(spans) == limit:
                    break
            expected = seq + 1
        return tuple(spans)


def describe(spans: Iterable[Span]) -> str:
    """``4``, ``4-7, 9``: the missing seqs in a reason."""
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
