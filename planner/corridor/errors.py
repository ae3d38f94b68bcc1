"""Why a corridor map is refused."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MapProblem:
    """One thing wrong with a map, naming the feature it is about (``None`` for the map as a whole)."""

    feature: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.feature}: {self.message}" if self.feature else self.message


class MapError(ValueError):
    """A corridor map was refused. ``problems`` lists every reason found, most basic first."""

    def __init__(self, problems: list[MapProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"corridor map refused ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{lines}")
