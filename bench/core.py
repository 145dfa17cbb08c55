"""What every benchmark returns, and small measuring helpers."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

__all__ = ["BenchResult", "Figure", "percentile"]


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    """The same measure for the baseline, taken in the same run."""
    goal: str = ""
    """The goal as text, e.g. ">= 20000"."""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]


@dataclass
class BenchResult:
    stage: str
    baseline: str
    """What the baseline is (e.g. "raw aiokafka consume")."""
    figures: list[Figure] = field(default_factory=list)
    notes: str = ""

    def add(
        self, name: str, value: float, unit: str, *, baseline: float | None = None, goal: str = ""
    ) -> None:
        self.figures.append(Figure(name, value, unit, baseline, goal))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[min(999, int(p * 10)) - 1]
