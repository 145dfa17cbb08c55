"""RFM scores and the eight classic segments; value tier by amount paid."""

from __future__ import annotations

from collections.abc import Sequence

from streams.domain.tag_definitions import RfmDef, ValueTier

__all__ = ["SEGMENT_LABELS", "Rfm", "rfm", "value_tier"]

SEGMENT_LABELS: dict[str, str] = {
    "important_value": "重要价值",
    "important_develop": "重要发展",
    "important_retain": "重要保持",
    "important_win_back": "重要挽留",
    "general_value": "一般价值",
    "general_develop": "一般发展",
    "general_retain": "一般保持",
    "general_win_back": "一般挽留",
}
"""The operators' name of each segment key of :class:`RfmDef` (SQL shows both)."""

Rfm = tuple[int, int, int, str]
"""(R score, F score, M score, segment)."""


def _ascending_score(value: float, thresholds: Sequence[float]) -> int:
    return 1 + sum(1 for t in thresholds if value >= t)


def rfm(defs: RfmDef, days_since_order: int, orders: int, paid: float) -> Rfm:
    """Scores from calendar days since the last order and the window's orders and amount.

    R is highest for the most recent buyers: ``days ≤ recency_days[0]`` scores the top
    score, each threshold passed costs one point.
    """
    r = len(defs.recency_days) + 1 - sum(1 for t in defs.recency_days if days_since_order > t)
    f = _ascending_score(orders, defs.frequency)
    m = _ascending_score(paid, defs.monetary)
    key = "".join("H" if s >= defs.high_from else "L" for s in (r, f, m))
    return r, f, m, defs.segments[key]


def value_tier(tiers: Sequence[ValueTier], paid: float) -> str | None:
    """The highest tier whose ``min_paid`` is reached; None below the lowest."""
    found = None
    for tier in tiers:
        if paid >= tier.min_paid:
            found = tier.name
    return found
