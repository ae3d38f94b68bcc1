"""Why a corridor map is refused."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

#: A refusal with up to this many problems lists them all; a longer one shows each kind's count and first few.
LISTED_IN_FULL = 20
SHOWN_PER_KIND = 3


@dataclass(frozen=True)
class MapProblem:
    """One thing wrong with a map, naming the feature it is about (``None`` for the map as a whole).

    ``kind`` names the sort of problem ("dangling lane"), the same for every problem of that sort: a map
    broken in one way has hundreds of problems of one kind, which a summary counts instead of listing.
    """

    feature: str | None
    message: str
    kind: str

    def __str__(self) -> str:
        return f"{self.feature}: {self.message}" if self.feature else self.message


class MapError(ValueError):
    """A corridor map was refused. ``problems`` lists every reason found, most basic first; the message lists
    them too, or, past :data:`LISTED_IN_FULL`, counts them by kind with the first few of each."""

    def __init__(self, problems: list[MapProblem]) -> None:
        self.problems = problems
        super().__init__(self.summary() if self.shortened else self.in_full())

    @property
    def shortened(self) -> bool:
        """True when the message leaves problems out (they are all in ``problems`` and :meth:`in_full`)."""
        return len(self.problems) > LISTED_IN_FULL

    def _headline(self) -> str:
        count = len(self.problems)
        return f"corridor map refused ({count} problem{'s' if count != 1 else ''}"

    def in_full(self) -> str:
        """Every problem, one a line."""
        return self._headline() + "):\n" + "\n".join(f"  - {p}" for p in self.problems)

    def summary(self) -> str:
        """Each kind of problem (in the order first found) with its count and its first few problems."""
        counts = Counter(p.kind for p in self.problems)
        lines = [self._headline() + f" of {len(counts)} kind{'s' if len(counts) != 1 else ''}; "
                                    f"the first {SHOWN_PER_KIND} of each):"]
        for kind, count in counts.items():
            lines.append(f"  {kind}: {count}")
            first = [p for p in self.problems if p.kind == kind][:SHOWN_PER_KIND]
            lines += [f"    - {p}" for p in first]
            if count > len(first):
                lines.append(f"    ... and {count - len(first)} more")
        return "\n".join(lines)
