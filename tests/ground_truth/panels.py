"""The expected rows of every ClickHouse panel of the Grafana dashboards, by panel title.

Each entry names the columns compared (with how a returned value is read: ``s`` text,
``i`` integer, ``f`` number to 4 places, ``d`` a date or the date of a time, ``h`` the
UTC hour of a time, ``code`` a dead-letter reason's code) and computes the rows from the
scenario alone. ``ordered`` entries are compared in the panel's order.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.ground_truth.context import Ctx
from tests.ground_truth.funnels import (
    COMMERCE_NAMES,
    FISSION_NAMES,
    commerce_counts,
    fission_counts,
    funnel_channel,
)
from tests.ground_truth.scenario import SCENE_NAMES
from tests.ground_truth.users import cohort

__all__ = ["Check", "cols"]

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Check:
    columns: tuple[tuple[str, str], ...]
    rows: Callable[[Ctx], list[Row]]
    ordered: bool = False


def cols(spec: str) -> tuple[tuple[str, str], ...]:
    return tuple((c.split(":")[0], c.split(":")[1]) for c in spec.split())


def _r(x: float) -> float:
    return round(x, 4)


def dead_letters(c: Ctx) -> list[Row]:
    return sorted(Counter(r.code for r in c.s.rejected).items())


def events_per_hour(c: Ctx) -> list[Row]:
    hours = Counter(
        dt.datetime.fromtimestamp(e.time / 1000, dt.UTC).strftime("%Y-%m-%d %H")
        for e in c.s.all_events
        if c.in_time(e.time)
    )
    return sorted(hours.items())


def new_by_channel(c: Ctx) -> list[Row]:
    n = Counter((cohort(c.s, u), u.touch["channel"]) for u in c.users.values())
    return [(d, ch, k) for (d, ch), k in n.items() if c.in_dates(d)]


def new_by_scene(c: Ctx) -> list[Row]:
    n = Counter(
        f"{u.touch['scene']} {SCENE_NAMES[u.touch['scene']]}"
        for u in c.users.values()
        if u.touch["scene"] and c.in_dates(cohort(c.s, u))
    )
    return list(n.items())


def new_by_platform(c: Ctx) -> list[Row]:
    n = Counter(u.first.platform for u in c.users.values() if c.in_dates(cohort(c.s, u)))
    return list(n.items())


def attribution(c: Ctx) -> list[Row]:
    groups: dict[tuple[str, ...], list[Any]] = defaultdict(lambda: [0, 0, 0.0])
    for u in c.users.values():
        t = u.touch
        g = groups[(t["channel"], t["scene"], t["material"], t["campaign"])]
        g[0], g[1], g[2] = g[0] + 1, g[1] + bool(u.orders), g[2] + u.revenue
    return [(*k, n, p, _r(rev), _r(p / n)) for k, (n, p, rev) in groups.items()]


def active(c: Ctx, platform: str | None) -> list[Row]:
    days: dict[str, set[dt.date]] = defaultdict(set)
    for u in c.users.values():
        for d in u.platform_days[platform] if platform else u.days:
            days[u.name].add(d)
    last = c.s.today()  # rows run up to today in the project's timezone
    first = min(d for ds in days.values() for d in ds) if days else last
    out = []
    day = first
    while day <= last:

        def n(span: int, day: dt.date = day) -> int:
            lo = day - dt.timedelta(days=span - 1)
            return sum(1 for ds in days.values() if any(lo <= d <= day for d in ds))

        if n(30) and c.in_dates(day):
            out.append((day, n(1), n(7), n(30)))
        day += dt.timedelta(days=1)
    return out


def dau_by_platform(c: Ctx) -> list[Row]:
    platforms = {e.platform for e in c.s.all_events}
    return [(d, p, dau) for p in platforms for d, dau, _, _ in active(c, p)]


def commerce_steps(c: Ctx) -> list[Row]:
    n: Counter[int] = Counter()
    for (_, day, step), users in commerce_counts(c.s).items():
        if c.in_dates(day):
            n[step] += users
    return [(COMMERCE_NAMES[s - 1], n[s]) for s in sorted(n)]


def conversion_by_day(c: Ctx) -> list[Row]:
    counts = commerce_counts(c.s)
    out = []
    for day in sorted({d for _, d, _ in counts}, reverse=True):
        if not c.in_dates(day):
            continue
        entered = counts[("", day, 1)]
        for step in range(1, 6):
            users = counts[("", day, step)]
            if users:
                prev = counts[("", day, step - 1)] if step > 1 else users
                out.append(
                    (
                        day,
                        step,
                        COMMERCE_NAMES[step - 1],
                        users,
                        _r(users / prev),
                        _r(users / entered),
                    )
                )
    return out


def paid_by_platform(c: Ctx) -> list[Row]:
    counts = commerce_counts(c.s, lambda e: e.platform)
    return [(d, p, n) for (p, d, step), n in counts.items() if step == 5 and c.in_dates(d)]


def conversion_by_channel(c: Ctx) -> list[Row]:
    counts = commerce_counts(c.s, funnel_channel)
    entered: Counter[str] = Counter()
    paid: Counter[str] = Counter()
    for (ch, d, step), n in counts.items():
        if c.in_dates(d):
            entered[ch] += n if step == 1 else 0
            paid[ch] += n if step == 5 else 0
    return [(ch, entered[ch], paid[ch], _r(paid[ch] / max(entered[ch], 1))) for ch in entered]


def experiments(c: Ctx) -> list[Row]:
    out = []
    exposed: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for u in c.users.values():
        x = [e for e in u.events if e.properties.get("experiment")]
        if x:
            first = min(x, key=lambda e: e.time)
            key = (first.properties["experiment"], first.properties["variant"])
            exposed[key][u.name] = first.time
    for (exp, var), members in exposed.items():

        def did(event: str, members: dict[str, int] = members) -> int:
            return sum(
                1
                for n, since in members.items()
                if any(e.event == event and e.time >= since for e in c.users[n].events)
            )

        paid = did("pay_order")
        out.append(
            (
                exp,
                var,
                len(members),
                did("view_product"),
                did("add_to_cart"),
                paid,
                _r(paid / len(members)),
            )
        )
    return out


def fission_steps(c: Ctx) -> list[Row]:
    n: Counter[int] = Counter()
    for (day, step), users in fission_counts(c.s).items():
        if c.in_dates(day):
            n[step] += users
    return [(FISSION_NAMES[s - 1], n[s]) for s in sorted(n)]


def kfactor(c: Ctx) -> list[Row]:
    f = c.fission
    out = []
    for campaign, sharers in f.sharers.items():
        invitees = [i for i, k in f.campaign.items() if k == campaign]
        conv = sum(1 for i in invitees if i in f.registered)
        out.append(
            (
                campaign or "(none)",
                len(sharers),
                len(invitees),
                conv,
                _r(conv / len(sharers)),
                _r(len(invitees) / len(sharers)),
            )
        )
    return out


def invitee_steps(c: Ctx) -> list[Row]:
    f = c.fission
    counts = (len(f.parent), len(f.registered), len(f.ordered))
    return [(FISSION_NAMES[i + 1], n) for i, n in enumerate(counts) if n]


def tree_depth(c: Ctx) -> list[Row]:
    return [(str(d), n) for d, n in sorted(Counter(c.fission.depth.values()).items())]


def koc(c: Ctx) -> list[Row]:
    f = c.fission
    out = []
    for sharer in set().union(*f.sharers.values()):
        direct = [i for i, p in f.parent.items() if p == sharer]
        below = f.descendants(sharer)
        out.append(
            (
                c.ids[sharer],
                len(direct),
                sum(1 for i in direct if i in f.registered),
                sum(1 for i in direct if i in f.ordered),
                len(below),
                max(below.values(), default=0),
                sum(1 for i in below if i in f.registered),
            )
        )
    return out


def invites_per_day(c: Ctx) -> list[Row]:
    days = Counter(c.s.local_date(t) for t in c.fission.first_visit.values() if c.in_time(t))
    out, day = [], min(days)
    while day <= max(days):
        out.append((day, days[day]))
        day += dt.timedelta(days=1)
    return out


def lifecycle(c: Ctx) -> list[Row]:
    stages: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for u in c.users.values():
        s = stages[u.lifecycle(c.s.now)]
        s[0], s[1] = s[0] + 1, s[1] + bool(u.orders)
    return [(k, n, p) for k, (n, p) in stages.items()]


def rfm(c: Ctx) -> list[Row]:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for u in c.users.values():
        seg = u.rfm(c.s.today())
        if seg:
            groups[seg].append(u.revenue)
    return [
        (f"{name} ({key})", len(v), round(sum(v) / len(v), 2)) for (key, name), v in groups.items()
    ]


def _monthly(c: Ctx) -> dict[dt.date, dict[str, list[float]]]:
    months: dict[dt.date, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for u in c.users.values():
        for _, day, amount in u.orders:
            months[day.replace(day=1)][u.name].append(amount)
    return months


def concentration(c: Ctx) -> list[Row]:
    out = []
    for month, buyers in _monthly(c).items():
        totals = sorted((sum(v) for v in buyers.values()), reverse=True)
        top = totals[: max(1, (len(totals) + 4) // 5)]
        out.append((month, len(totals), round(sum(totals), 2), _r(sum(top) / sum(totals))))
    return out


def repurchase(c: Ctx) -> list[Row]:
    out = []
    for month, buyers in _monthly(c).items():
        repeat = sum(1 for v in buyers.values() if len(v) >= 2)
        out.append((month, len(buyers), repeat, _r(repeat / len(buyers))))
    return out


def ltv(c: Ctx) -> list[Row]:
    groups: dict[tuple[dt.date, str], list[Any]] = defaultdict(lambda: [0, 0, 0.0])
    for u in c.users.values():
        day = cohort(c.s, u)
        g = groups[(day - dt.timedelta(days=day.weekday()), u.touch["channel"])]
        g[0], g[1], g[2] = g[0] + 1, g[1] + bool(u.orders), g[2] + u.revenue
    return [
        (w, ch, n, p, round(rev, 2), round(rev / n, 2)) for (w, ch), (n, p, rev) in groups.items()
    ]


def retention(c: Ctx, by_platform: bool, *, dated: bool = True) -> list[Row]:
    """Per cohort day (inside the panel's dates unless ``dated`` is false) or platform."""
    groups: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for u in c.users.values():
        day = cohort(c.s, u)
        if not by_platform and dated and not c.in_dates(day):
            continue
        g = groups[u.first.platform if by_platform else day]
        g[0] += 1
        for i, k in enumerate((1, 7, 30), 1):
            g[i] += (day + dt.timedelta(days=k)) in u.days
    return [(k, n, _r(a / n), _r(b / n), _r(d / n)) for k, (n, a, b, d) in groups.items()]


def pushes(c: Ctx) -> list[Row]:
    sends = {"push_send", "push_open"}
    groups: dict[tuple[str, str], dict[str, int | None]] = defaultdict(dict)
    for e in c.s.all_events:
        if e.event in sends:
            key = (e.properties["campaign"], e.properties["group_id"])
            opened = groups[key].get(e.user)
            if e.event == "push_open":
                opened = min(opened or e.time, e.time)
            groups[key][e.user] = opened
    out = []
    for (campaign, group), members in groups.items():

        def after(events: set[str], members: dict[str, int | None] = members) -> int:
            return sum(
                1
                for n, t in members.items()
                if t
                and any(
                    e.event in events and t <= e.time <= t + 7 * 86_400_000
                    for e in c.users[n].events
                )
            )

        opened = sum(1 for t in members.values() if t)
        out.append(
            (
                campaign,
                group,
                len(members),
                opened,
                _r(opened / len(members)),
                after({"app_download", "$AppInstall"}),
                after({"pay_order"}),
                after({"share"}),
            )
        )
    return out
