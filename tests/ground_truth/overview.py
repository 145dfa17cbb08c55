"""Expected figures of the overview page for a period (today / 7 / 30 days of the
project's timezone), by the id of the element that shows them.

KPIs are numbers; bar charts are ``{name: value}``; tables are sets of rows (text cells).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from tests.ground_truth import panels as p
from tests.ground_truth.context import Ctx
from tests.ground_truth.funnels import (
    COMMERCE_NAMES,
    FISSION_NAMES,
    commerce_counts,
    fission_counts,
)
from tests.ground_truth.users import cohort

__all__ = ["OVERVIEW"]


def _d0(c: Ctx, days: int) -> dt.date:
    return c.s.today() - dt.timedelta(days=days - 1)


def _t0(c: Ctx, days: int) -> int:
    d = _d0(c, days)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(c.s.zone)).timestamp() * 1000)


def _steps(counts: Counter[Any], names: tuple[str, ...], since: dt.date) -> dict[str, int]:
    n: Counter[int] = Counter()
    for key, users in counts.items():
        day, step = key[-2], key[-1]
        if day >= since:
            n[step] += users
    return {names[s - 1]: n[s] for s in sorted(n)}


def funnel(c: Ctx, days: int) -> dict[str, int]:
    return _steps(commerce_counts(c.s), COMMERCE_NAMES, _d0(c, days))


def fission(c: Ctx, days: int) -> dict[str, int]:
    return _steps(fission_counts(c.s), FISSION_NAMES, _d0(c, days))


def conversion(c: Ctx, days: int) -> float:
    bars = list(funnel(c, days).values())
    return bars[-1] / bars[0] if bars else 0.0


def channels(c: Ctx, days: int) -> dict[str, int]:
    n = Counter(u.touch["channel"] for u in c.users.values() if cohort(c.s, u) >= _d0(c, days))
    return dict(sorted(n.items(), key=lambda kv: (-kv[1], kv[0]))[:8])


def kfactor(c: Ctx, _: int) -> float:
    f = c.fission
    sharers = set().union(*f.sharers.values())
    return round(round(len(f.registered) / max(len(sharers), 1), 4), 3)


def koc(c: Ctx, _: int) -> set[tuple[str, ...]]:
    return {(r[0], str(r[1]), str(r[4]), str(r[5]), str(r[6])) for r in p.koc(c)}


def retention(c: Ctx, days: int) -> set[tuple[str, ...]]:
    """The 7 latest cohorts of the period."""
    rows = sorted(p.retention(c, by_platform=False, dated=False), reverse=True)
    rows = [r for r in rows if r[0] >= _d0(c, days)][:7]
    return {
        (str(day), str(n), *(str(round(x, 3)).removesuffix(".0") for x in rates))
        for day, n, *rates in rows
    }


def hourly(c: Ctx, since_ms: int) -> dict[str, int]:
    tz = ZoneInfo(c.s.zone)
    n = Counter(
        dt.datetime.fromtimestamp(e.time / 1000, tz).strftime("%d %H:00")
        for e in c.s.all_events
        if e.time >= since_ms
    )
    return dict(n)


OVERVIEW: dict[str, Callable[[Ctx, int], Any]] = {
    "k-events": lambda c, d: sum(1 for e in c.s.all_events if e.time >= _t0(c, d)),
    "k-dau": lambda c, d: sum(1 for u in c.users.values() if max(u.days) >= _d0(c, d)),
    "k-new": lambda c, d: sum(1 for u in c.users.values() if cohort(c.s, u) >= _d0(c, d)),
    "k-users": lambda c, _: len(c.users),
    "k-conv": conversion,
    "k-k": kfactor,
    "k-dl": lambda c, _: len(c.s.rejected),
    "funnel": funnel,
    "channels": channels,
    "fission": fission,
    "koc": koc,
    "lifecycle": lambda c, _: {stage: n for stage, n, _ in p.lifecycle(c)},
    "rfm": lambda c, _: {seg: n for seg, n, _ in p.rfm(c)},
    "retention": retention,
    "hourly": lambda c, _: hourly(c, c.s.now - 24 * 3_600_000),
    "dead": lambda c, _: dict(Counter(r.code for r in c.s.rejected)),
    "health": lambda c, _: 0,
}
"""``hourly`` is replaced by the test with the page's own 24 hours; ``health``: records
behind of every stage once the pipeline has drained; ``dead``: counts by reason code."""
