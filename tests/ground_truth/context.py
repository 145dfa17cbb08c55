"""What every expected figure is computed from: the scenario, its users, its share tree,
siyu's user id of each scenario user (to name rows), and the time range of the panels."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

from tests.ground_truth.funnels import Fission, fission_of
from tests.ground_truth.scenario import Scenario
from tests.ground_truth.users import User, users_of

__all__ = ["Ctx"]

RANGE_DAYS = 30


@dataclass
class Ctx:
    s: Scenario
    ids: dict[str, str] = field(default_factory=dict)
    """Scenario user name → siyu user id (read from the events, for naming rows only)."""
    viewed_at: int = 0
    """When the panels are looked at (the end of their time range); default: the
    scenario's ``now``."""

    @cached_property
    def users(self) -> dict[str, User]:
        return users_of(self.s)

    @cached_property
    def fission(self) -> Fission:
        return fission_of(self.s)

    @property
    def range_ms(self) -> tuple[int, int]:
        """Grafana's time range of the panels: the last 30 days up to now."""
        end = self.viewed_at or self.s.now
        return end - RANGE_DAYS * 86_400_000, end

    def in_time(self, ms: int) -> bool:
        lo, hi = self.range_ms
        return (lo // 1000) * 1000 <= ms <= (hi // 1000) * 1000

    def in_dates(self, day: dt.date) -> bool:
        """``$__dateFilter``: the UTC dates of the range's ends."""
        lo, hi = (dt.datetime.fromtimestamp(t / 1000, dt.UTC).date() for t in self.range_ms)
        return lo <= day <= hi
