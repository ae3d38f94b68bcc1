"""Gaps in an authority's event stream.

Each authority numbers its events 1, 2, 3, ... in the order it issues them. Events may arrive out of
order, so a missing seq below the latest one received is a *known gap*: an event the authority issued
(perhaps a ``hold``) that the fleet has not seen. While a gap stands the gate denies; the fleet asks the
authority to resend what is missing.

A *validly signed but malformed* event is weaker evidence: its seq may be as wrong as the field that broke
it (a seq of 2^53 once blocked every crossing for events that were never issued). So it fills its own place
once a well-formed event passes it, and never proves events below it (:meth:`SeqStream.add_malformed`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from fleet.customs.envelope import SEQ_RANGE

MAX_MALFORMED_AHEAD = 1024  # malformed seqs kept above the latest well-formed one (the lowest)
Span = tuple[int, int]  # first and last missing seq, inclusive


@dataclass
class SeqStream:
    """The seqs received from one authority: all of 1..``complete_to``, and the sorted ones beyond it; and the
    malformed ones above the latest of those (``ahead``, sorted), heard once a well-formed seq passes them."""

    complete_to: int = 0
    beyond: list[int] = field(default_factory=list)
    ahead: list[int] = field(default_factory=list)

    @property
    def latest(self) -> int:
        return self.beyond[-1] if self.beyond else self.complete_to

    def add(self, seq: int) -> None:
        """A well-formed event's seq: heard, and every seq below it is an issued event."""
        self._insert(seq)
        while self.ahead and self.ahead[0] < self.latest:
            self._insert(self.ahead.pop(0))

    def add_malformed(self, seq: int) -> None:
        """A validly signed but malformed event's seq: heard, proving nothing below it (ignored if no seq can be)."""
        if seq not in SEQ_RANGE:
            return
        if seq < self.latest:
            self._insert(seq)
            return
        index = bisect.bisect_left(self.ahead, seq)
        if index == len(self.ahead) or self.ahead[index] != seq:
            self.ahead.insert(index, seq)
            del self.ahead[MAX_MALFORMED_AHEAD:]

    def heard(self, seq: int) -> bool:
        """Whether a well-formed event with ``seq`` was received (a malformed one still ahead is not counted)."""
        if seq <= self.complete_to:
            return True
        index = bisect.bisect_left(self.beyond, seq)
        return index < len(self.beyond) and self.beyond[index] == seq

    def copy(self) -> SeqStream:
        return SeqStream(self.complete_to, list(self.beyond), list(self.ahead))

    def _insert(self, seq: int) -> None:
        if seq <= self.complete_to:
            return
        index = bisect.bisect_left(self.beyond, seq)
        if index < len(self.beyond) and self.beyond[index] == seq:
            return
        self.beyond.insert(index, seq)
        while self.beyond and self.beyond[0] == self.complete_to + 1:
            self.complete_to = self.beyond.pop(0)

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
