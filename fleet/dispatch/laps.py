"""Where a tick's time went, phase by phase: the loop logs it for a slow tick (docs/operations.md)."""

from __future__ import annotations

import time


class Laps:
    """Named laps of a stopwatch: ``lap(name)`` adds the time since the last lap (or the start) to ``name``."""

    def __init__(self, started: float) -> None:
        self._last = started
        self.seconds: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {s * 1000:.0f} ms" for name, s in self.seconds.items())
