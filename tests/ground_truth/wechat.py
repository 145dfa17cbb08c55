"""Expected rows of the live-code and WeCom group panels, from the scenario."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from tests.ground_truth.context import Ctx
from tests.ground_truth.scenario import LIVE_CODE

__all__ = ["code_kinds", "codes", "dead_groups", "group_daily", "groups"]

Row = tuple[Any, ...]
DAY_MS = 86_400_000
APP = frozenset({"miniprogram", "h5", "app", "web"})
# The shipped registry's entry for the live code (streams/config/qrcodes.yaml).
REGISTERED = {LIVE_CODE: ("Demo live poster", "live", "moments_poster", "poster_a", "staff-demo")}


def _code_users(c: Ctx) -> dict[str, dict[str, tuple[int, int]]]:
    """code → user → (entered at, scans)."""
    out: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for e in c.s.all_events:
        code = e.context.get("qr")
        if code:
            at, n = out[code].get(e.user, (e.time, 0))
            out[code][e.user] = (min(at, e.time), n + 1)
    return out


def codes(c: Ctx) -> list[Row]:
    out = []
    for code, users in _code_users(c).items():
        name, kind, channel, material, staff = REGISTERED.get(
            code, (code, "unregistered", "", "", "")
        )
        active = first = orders = 0
        revenue = 0.0
        for user, (at, _) in users.items():
            evs = c.users[user].events
            active += any(e.platform in APP and at < e.time <= at + 7 * DAY_MS for e in evs)
            paid = [(e.time, e.properties["amount"]) for e in evs if e.event == "pay_order"]
            first += bool(paid) and min(paid)[0] >= at
            orders += sum(1 for t, _ in paid if t >= at)
            revenue += sum(a for t, a in paid if t >= at)
        scans = sum(n for _, n in users.values())
        out.append(
            (
                code,
                name,
                kind,
                channel,
                material,
                staff,
                scans,
                len(users),
                active,
                first,
                orders,
                round(revenue, 2),
            )
        )
    return out


def code_kinds(c: Ctx) -> list[Row]:
    kinds: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, 0, 0.0])
    for row in codes(c):
        k = kinds[row[2]]
        for i, v in enumerate((1, row[7], row[8], row[9], row[11])):
            k[i] += v
    return [
        (kind, n, u, a, f, round(r, 2), round(f / max(u, 1), 4))
        for kind, (n, u, a, f, r) in kinds.items()
    ]


def _membership(c: Ctx) -> dict[str, dict[str, list[Any]]]:
    """chat → member → [last action, joined at, member type]."""
    out: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for e in sorted(c.s.all_events, key=lambda x: x.time):
        if e.event in ("wecom_group_join", "wecom_group_leave"):
            p = e.properties
            m = out[p["chat_id"]].setdefault(p["member_id"], ["", 0, p["member_type"]])
            m[0] = "join" if e.event.endswith("join") else "leave"
            m[1] = e.time if m[0] == "join" else m[1]
    return out


def _groups(c: Ctx) -> list[tuple[str, int, int, int, float, int]]:
    """(chat, members, active 7 d, orders, revenue, last activity) of every group."""
    out = []
    for chat, members in _membership(c).items():
        last = max(e.time for e in c.s.all_events if e.properties.get("chat_id") == chat)
        current = {m: v for m, v in members.items() if v[0] == "join" and v[2] == "external"}
        active = orders = 0
        revenue = 0.0
        for member, (_, joined, _) in current.items():
            evs = [e for e in c.users[member].events if not e.event.startswith("wecom_group_")]
            active += any(e.platform in APP and e.time > c.s.now - 7 * DAY_MS for e in evs)
            paid = [
                e.properties["amount"] for e in evs if e.event == "pay_order" and e.time >= joined
            ]
            orders, revenue = orders + len(paid), revenue + sum(paid)
            last = max([last, *(e.time for e in evs)])
        out.append((chat, len(current), active, orders, round(revenue, 2), last))
    return out


def _idle(c: Ctx, last: int) -> int:
    """Project days since ``last`` (epoch ms)."""
    return (c.s.today() - c.s.local_date(last)).days


def groups(c: Ctx) -> list[Row]:
    return [(chat, n, a, o, r, _idle(c, last)) for chat, n, a, o, r, last in _groups(c)]


def dead_groups(c: Ctx) -> list[Row]:
    return [
        (
            chat,
            n,
            dt.datetime.fromtimestamp(last / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            _idle(c, last),
        )
        for chat, n, _, _, _, last in _groups(c)
        if _idle(c, last) >= 7
    ]


def group_daily(c: Ctx) -> list[Row]:
    days: Counter[tuple[dt.date, str]] = Counter()
    for e in c.s.all_events:
        if e.event.startswith("wecom_group_") and e.properties["member_type"] == "external":
            days[(c.s.local_date(e.time), e.event.removeprefix("wecom_group_"))] += 1
    return [
        (d, days[(d, "join")], days[(d, "leave")])
        for d in sorted({d for d, _ in days})
        if c.in_dates(d)
    ]
