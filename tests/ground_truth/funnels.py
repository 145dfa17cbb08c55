"""Funnel and fission figures of the scenario, in plain Python.

A funnel counts, per entry day (the local day of a step-1 event), the users whose
longest in-order chain started by a step-1 event of that day reaches each step within
the window. Fission: an invitee belongs to the sharer whose share brought their first
visit (first touch); K-factor = invitees who registered / every sharer.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from tests.ground_truth.scenario import Event, Scenario

__all__ = ["COMMERCE", "Fission", "commerce_counts", "fission_counts", "fission_of"]

COMMERCE = (
    frozenset({"$pageview", "$MPViewScreen", "$AppViewScreen"}),
    frozenset({"view_product"}),
    frozenset({"add_to_cart"}),
    frozenset({"submit_order"}),
    frozenset({"pay_order"}),
)
COMMERCE_NAMES = ("page_view", "view_product", "add_to_cart", "submit_order", "pay_order")
FISSION_NAMES = ("share", "visit", "register", "first_order")
HOUR_MS = 3_600_000


def _level(start: int, steps: list[list[int]], window_ms: int) -> int:
    """Longest chain after a step-1 event at ``start``: each next step at or after the
    previous one, all within the window (times per step, sorted)."""
    level, t = 1, start
    for times in steps:
        found = next((x for x in times if t <= x <= start + window_ms), None)
        if found is None:
            break
        level, t = level + 1, found
    return level


def commerce_counts(
    s: Scenario, breakdown: Callable[[Event], str] | None = None
) -> Counter[tuple[str, dt.date, int]]:
    """users per (breakdown value, entry day, step) of the commerce funnel (24 h)."""
    per_user: dict[str, list[Event]] = defaultdict(list)
    for e in s.all_events:
        per_user[e.user].append(e)
    out: Counter[tuple[str, dt.date, int]] = Counter()
    for events in per_user.values():
        steps = [sorted(e.time for e in events if e.event in c) for c in COMMERCE[1:]]
        best: dict[tuple[str, dt.date], int] = {}
        for e in events:
            if e.event in COMMERCE[0]:
                key = (breakdown(e) if breakdown else "", s.local_date(e.time))
                best[key] = max(best.get(key, 0), _level(e.time, steps, 24 * HOUR_MS))
        for (value, day), level in best.items():
            for step in range(1, level + 1):
                out[(value, day, step)] += 1
    return out


def funnel_channel(e: Event) -> str:
    """The commerce breakdown's channel of an entry: the channel the entry stands for (as
    acquisition shows it), ``direct`` for a visit without a source."""
    return e.truth.get("channel", "direct")


@dataclass
class Fission:
    parent: dict[str, str]  # invitee → sharer (first touch)
    first_visit: dict[str, int]
    depth: dict[str, int]
    registered: set[str]
    ordered: set[str]
    sharers: dict[str, set[str]]  # campaign → sharers
    campaign: dict[str, str]  # invitee → campaign of the share that brought them

    def descendants(self, sharer: str) -> dict[str, int]:
        out: dict[str, int] = {}
        frontier, distance = [sharer], 0
        while frontier:
            distance += 1
            frontier = [i for i, p in self.parent.items() if p in frontier and i not in out]
            out.update({i: distance for i in frontier})
        return out


def fission_of(s: Scenario) -> Fission:
    prefix = f"gt-{s.project}-"
    parent: dict[str, str] = {}
    first_visit: dict[str, int] = {}
    depth: dict[str, int] = {}
    campaign: dict[str, str] = {}
    sharers: dict[str, set[str]] = defaultdict(set)
    for e in sorted(s.all_events, key=lambda x: x.time):
        share = e.context.get("share", {})
        if e.event == "share":
            sharers[share.get("campaign", "")].add(e.user)
        sharer = share.get("sharer", "").removeprefix(prefix)
        if sharer and e.user not in parent and e.event in COMMERCE[0]:
            parent[e.user], first_visit[e.user] = sharer, e.time
            depth[e.user] = depth.get(sharer, 0) + 1
            campaign[e.user] = share.get("campaign", "")
            sharers[campaign[e.user]].add(sharer)
    registered = {e.user for e in s.all_events if e.event == "register" and e.user in parent}
    ordered = {e.user for e in s.all_events if e.event == "pay_order" and e.user in parent}
    return Fission(parent, first_visit, depth, registered, ordered, dict(sharers), campaign)


def fission_counts(s: Scenario) -> Counter[tuple[dt.date, int]]:
    """sharers per (share day, step) of the fission funnel (7 days): share → an invitee's
    visit through it → that invitee registers → their first order."""
    f = fission_of(s)
    out: Counter[tuple[dt.date, int]] = Counter()
    window = 7 * 24 * HOUR_MS
    by_user: dict[str, list[Event]] = defaultdict(list)
    for e in s.all_events:
        by_user[e.user].append(e)
    shares = [e for e in s.all_events if e.event == "share"]
    best: dict[tuple[str, dt.date], int] = {}
    for share in shares:
        level = 1
        for invitee, sharer in f.parent.items():
            if sharer != share.user:
                continue
            evs = by_user[invitee]
            first_order = min((e.time for e in evs if e.event == "pay_order"), default=None)
            steps = [
                [f.first_visit[invitee]],
                sorted(e.time for e in evs if e.event == "register"),
                [first_order] if first_order is not None else [],
            ]
            level = max(level, _level(share.time, steps, window))
        key = (share.user, s.local_date(share.time))
        best[key] = max(best.get(key, 0), level)
    for (_, day), level in best.items():
        for step in range(1, level + 1):
            out[(day, step)] += 1
    return out
