"""What a tag rule sees: the facts of one profile at one moment, computed on first use."""

from __future__ import annotations

from typing import Any

from streams.domain.profile import Profile, local_day
from streams.domain.properties import property_values
from streams.domain.scenes import TOUCH_FIELDS
from streams.domain.tag_definitions import HOUR_MS, Definitions, TagValue
from streams.domain.tag_rules import HOURLY_FACTS

__all__ = ["Facts", "days_since", "window_counts"]


def window_counts(defs: Definitions, p: Profile, today: int) -> dict[int, dict[str, int]]:
    """Window (days) → counted event → events in the last that many local days."""
    counts = {days: dict.fromkeys(defs.events.counted, 0) for days in defs.windows_days}
    for name in defs.events.counted:
        for day, n in p["daily"].get(name, {}).items():
            age = today - int(day)
            for days, per_event in counts.items():
                if age < days:
                    per_event[name] += n
    return counts


def days_since(defs: Definitions, then: int, now: int) -> int:
    return local_day(defs, now) - local_day(defs, then) if then else -1


def _hours_since(then: int, now: int) -> float:
    return (now - then) / HOUR_MS if then else -1.0


class Facts:
    """The variables a rule expression sees (documented in docs/tags.md), computed on
    first use: a rule set that never looks at touches never pays for them."""

    def __init__(
        self,
        defs: Definitions,
        p: Profile,
        now: int,
        tags: dict[str, TagValue],
        windows: dict[int, dict[str, int]] | None = None,
    ) -> None:
        self.defs, self.p, self.now, self.tags = defs, p, now, tags
        self.today = local_day(defs, now)
        self.windows = windows if windows is not None else window_counts(defs, p, self.today)
        self._cache: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = self._compute(name)
        return self._cache[name]

    def _compute(self, name: str) -> Any:
        p, now = self.p, self.now
        if name in _PROFILE_FACTS:
            return p[_PROFILE_FACTS[name]]  # type: ignore[literal-required]
        if name in HOURLY_FACTS:
            return _hours_since(p[HOURLY_FACTS[name]], now)  # type: ignore[literal-required]
        if name.startswith("days_since_"):
            field_name = {"last_order": "last_order_at"}.get(name[11:], name[11:])
            return days_since(self.defs, p[field_name], now)  # type: ignore[literal-required]
        if name.startswith(("count_", "visit_days_")):
            kind, days = name.rsplit("_", 1)
            window = int(days[:-1])
            if kind == "count":
                return self.windows[window]
            return sum(1 for d in p["visit_days"] if d > self.today - window)
        if name in ("first_touch", "latest_touch"):
            return _touch_fact(p[name])  # type: ignore[literal-required]
        return _DERIVED[name](self)


_PROFILE_FACTS = {
    "first_seen": "first_seen",
    "last_seen": "last_seen",
    "last_visit": "last_visit",
    "orders": "orders",
    "first_order_at": "first_order_at",
    "last_order_at": "last_order_at",
    "last_cart_at": "last_cart_at",
    "inviter": "inviter",
}

_DERIVED: dict[str, Any] = {
    "now": lambda f: f.now,
    "visited_today": lambda f: f.today in f.p["visit_days"],
    "visited_yesterday": lambda f: f.today - 1 in f.p["visit_days"],
    "total_paid": lambda f: float(f.p["paid"]),
    "cart_open": lambda f: f.p["last_cart_at"] > f.p["last_order_at"],
    "favourite_category": lambda f: str(f.tags.get("favourite_category", "")),
    "categories": lambda f: dict(f.p["categories"]),
    "platforms": lambda f: list(f.p["platforms"]),
    "interests": lambda f: [t[9:] for t in f.tags if t.startswith("interest:")],
    "lifecycle": lambda f: str(f.tags.get("lifecycle", "")),
    "paying": lambda f: f.p["orders"] >= 1,
    "repeat_buyer": lambda f: f.p["orders"] >= 2,
    "rfm_segment": lambda f: str(f.tags.get("rfm_segment", "")),
    "value_tier": lambda f: str(f.tags.get("value_tier", "")),
    "invitees": lambda f: len(f.p["invitees"]),
    "koc": lambda f: bool(f.tags.get("koc", False)),
    "properties": lambda f: property_values(f.p["properties"]),
}


def _touch_fact(touch: dict[str, Any] | None) -> dict[str, str]:
    if touch is None:
        return {name: "" for name in TOUCH_FIELDS}
    return {name: "" if touch.get(name) is None else str(touch[name]) for name in TOUCH_FIELDS}
