"""Where a tick's time went, phase by phase: the loop logs it for a slow tick (docs/operations.md)."""

from __future__ import annotations

import time


class Laps:
    """Named laps of a stopwatch: ``lap(name)`` ends a lap named ``name`` (begun at the last lap, or the start).
    A lap only notes the time: the seconds per name are added up when asked (``seconds``), for a slow tick's
    log, not at each of the eight or so laps of every tick (some 90,000 ticks a simulated day)."""

    def __init__(self, started: float) -> None:
        self._marks: list[tuple[str, float]] = [("", started)]  # (lap name, when it ended); first, the start

    def lap(self, name: str) -> None:
        self._marks.append((name, time.perf_counter()))

    @property
    def seconds(self) -> dict[str, float]:
        """The seconds of all laps of each name, in the order the names first came."""
        seconds: dict[str, float] = {}
        for (_, began), (name, ended) in zip(self._marks, self._marks[1:]):
            seconds[name] = seconds.get(name, 0.0) + ended - began
        return seconds

    def __str__(self) -> str:
        return ", ".join(f"{name} {s * 1000:.0f} ms" for name, s in self.seconds.items())
