"""Per-user facts of the scenario, in plain Python: first day, first touch, visits, orders.

Nothing here asks siyu: the definitions are those of docs/analytics.md, applied to the
scenario's own event list.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.ground_truth.scenario import Event, Scenario

__all__ = ["DAY_MS", "User", "users_of"]

DAY_MS = 86_400_000
VISITS = frozenset({"$pageview", "$MPViewScreen", "$AppViewScreen"})
# tags.yaml: lifecycle new_for 7d, silent_after 14d, churned_after 30d; rfm thresholds;
# value tiers. Written here by hand: the test states what the figures mean.
NEW_FOR, SILENT_AFTER, CHURNED_AFTER = 7 * DAY_MS, 14 * DAY_MS, 30 * DAY_MS
RECENCY, FREQUENCY, MONETARY, HIGH_FROM = (7, 14, 30, 60), (1, 2, 3, 5), (100, 300, 800, 2000), 3
SEGMENTS = {
    "HHH": ("important_value", "重要价值"),
    "HLH": ("important_develop", "重要发展"),
    "LHH": ("important_retain", "重要保持"),
    "LLH": ("important_win_back", "重要挽留"),
    "HHL": ("general_value", "一般价值"),
    "HLL": ("general_develop", "一般发展"),
    "LHL": ("general_retain", "一般保持"),
    "LLL": ("general_win_back", "一般挽留"),
}
TIERS = (("low", 0.01), ("mid", 500.0), ("high", 2000.0), ("vip", 10000.0))


@dataclass
class User:
    name: str
    events: list[Event] = field(default_factory=list)
    days: set[dt.date] = field(default_factory=set)
    platform_days: dict[str, set[dt.date]] = field(default_factory=lambda: defaultdict(set))
    orders: list[tuple[int, dt.date, float]] = field(default_factory=list)

    @property
    def first(self) -> Event:
        return min(self.events, key=lambda e: e.time)

    @property
    def touch(self) -> dict[str, str]:
        entries = [e for e in self.events if e.truth]
        if not entries:
            return {"channel": "direct", "scene": "", "material": "", "campaign": ""}
        return min(entries, key=lambda e: e.time).truth

    @property
    def revenue(self) -> float:
        return round(sum(a for _, _, a in self.orders), 2)

    def lifecycle(self, now: int) -> str:
        visits = [e.time for e in self.events if e.event in VISITS]
        last = max(visits) if visits else max(e.time for e in self.events)
        idle = now - last
        if idle >= CHURNED_AFTER:
            return "churned"
        if idle >= SILENT_AFTER:
            return "silent"
        return "new" if now - self.first.time < NEW_FOR else "active"

    def rfm(self, today: dt.date) -> tuple[str, str] | None:
        if not self.orders:
            return None
        last = max(d for _, d, _ in self.orders)
        window = [(d, a) for _, d, a in self.orders if d > today - dt.timedelta(days=90)]
        days = (today - last).days
        r = len(RECENCY) + 1 - sum(1 for t in RECENCY if days > t)
        f = 1 + sum(1 for t in FREQUENCY if len(window) >= t)
        m = 1 + sum(1 for t in MONETARY if round(sum(a for _, a in window), 2) >= t)
        return SEGMENTS["".join("H" if s >= HIGH_FROM else "L" for s in (r, f, m))]

    def tier(self) -> str | None:
        found = None
        for name, floor in TIERS:
            if self.revenue > 0 and self.revenue >= floor:
                found = name
        return found


def users_of(s: Scenario) -> dict[str, User]:
    out: dict[str, User] = {}
    for e in s.all_events:
        u = out.setdefault(e.user, User(e.user))
        u.events.append(e)
        day = s.local_date(e.time)
        u.days.add(day)
        u.platform_days[e.platform].add(day)
        if e.event == "pay_order":
            u.orders.append((e.time, day, float(e.properties["amount"])))
    return out


def cohort(s: Scenario, u: User) -> dt.date:
    return s.local_date(u.first.time)


def by_key(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)
