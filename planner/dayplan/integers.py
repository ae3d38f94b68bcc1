"""Both solvers work in integers: the problem's seconds, metres and costs scaled and rounded the safe way
(legs up, earliest times up, latest times down), so an answer the solver finds feasible is feasible in the
problem's own floating-point figures too."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.dayplan.model import DayProblem

__all__ = ["NO_ROUTE", "Integral"]

#: a leg the profile may not drive: larger than any day, small enough that sums stay in int64
NO_ROUTE = 2**44
UNBOUNDED = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Integral:
    time_scale: float = 1000.0  # units per second
    distance_scale: float = 1000.0  # units per metre
    per_metre: float = 1.0  # the problem's cost of a metre: a scaled metre costs exactly ``cost_multiplier``
    cost_multiplier: int = 1  # finer cost units, where a price per time unit would otherwise round far off

    @classmethod
    def of(cls, problem: DayProblem) -> Integral:
        return cls(per_metre=problem.costs.per_metre)

    def durations(self, problem: DayProblem) -> list[np.ndarray]:
        return [self._matrix(m, self.time_scale, np.ceil) for m in problem.travel.durations]

    def distances(self, problem: DayProblem) -> list[np.ndarray]:
        return [self._matrix(m, self.distance_scale, np.round) for m in problem.travel.distances]

    @staticmethod
    def _matrix(values: np.ndarray, scale: float, rounding) -> np.ndarray:
        finite = np.isfinite(values)
        return np.where(finite, rounding(np.where(finite, values, 0) * scale), NO_ROUTE).astype(np.int64)

    def early(self, seconds: float) -> int:
        return math.ceil(seconds * self.time_scale - 1e-9)

    def late(self, seconds: float, unbounded: int = UNBOUNDED) -> int:
        return math.floor(seconds * self.time_scale + 1e-9) if math.isfinite(seconds) else unbounded

    def span(self, seconds: float) -> int:
        """A service time, rounded up."""
        return math.ceil(seconds * self.time_scale - 1e-9)

    def metres(self, metres: float, unbounded: int = UNBOUNDED) -> int:
        return math.floor(metres * self.distance_scale + 1e-9) if math.isfinite(metres) else unbounded

    def cost(self, value: float) -> int:
        """A cost in the solver's units (one scaled metre = ``cost_multiplier``)."""
        return round(value * self.distance_scale * self.cost_multiplier / self.per_metre)

    def per_time_unit(self, per_s: float) -> int:
        """A price per second as the solver's cost of one time unit (0: too small to weigh at this scale)."""
        return round(self.exact_per_time_unit(per_s))

    def exact_per_time_unit(self, per_s: float) -> float:
        return per_s * self.distance_scale * self.cost_multiplier / self.per_metre / self.time_scale

    def from_cost(self, units: float) -> float:
        return units * self.per_metre / self.distance_scale / self.cost_multiplier
