"""The tag engine: profile + events (or the passing of time) → tags and tag changes.

- :func:`apply_events` folds a record's events into the profile, then computes every tag
  once and diffs it against the tags last published (``profile["tags"]``).
- :func:`tick` re-computes at ``now`` with no event: lifecycle stages, rolling windows,
  RFM recency and time-based rules move on their own. ``profile["due"]`` says when the
  next such change can happen (:func:`next_due`), so timers only visit users that need it.
- :func:`credit_referral` counts a successful invitee for an inviter.

All functions are pure: they take ``now`` and return a new profile, never touching the
one they were given. Replays are harmless: an event id seen recently is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from streams.domain import content, lifecycle, rfm
from streams.domain.events import TrackEvent
from streams.domain.profile import (
    Credit,
    Profile,
    fold_event,
    local_day,
    normalize,
    prune,
    remember,
)
from streams.domain.properties import PROPERTY_TYPES, apply_operation, property_values
from streams.domain.scenes import TOUCH_FIELDS
from streams.domain.segments import SegmentChange, SegmentSet, evaluate_segments, membership_changes
from streams.domain.tag_definitions import DAY_MS, HOUR_MS, Definitions, TagChange, TagValue
from streams.domain.tag_facts import Facts, days_since, window_counts
from streams.domain.tag_rules import HOURLY_FACTS, evaluate_rules

__all__ = [
    "Evaluation",
    "apply_events",
    "compute_tags",
    "credit_referral",
    "diff",
    "evaluate",
    "next_due",
    "tick",
]

TIMER = "timer"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What one step produced: the new profile and its outputs."""

    profile: Profile
    changes: tuple[TagChange, ...] = ()
    credits: tuple[Credit, ...] = ()
    """Referral credits to deliver to the inviters (keyed by inviter)."""
    applied: int = 0
    """Events applied (re-sent event ids are not)."""
    rule_errors: tuple[tuple[str, str], ...] = ()
    """``(rule, reason)``; a failed segment expression is named ``segment:<name>``."""
    segment_changes: tuple[SegmentChange, ...] = ()
    rejected: tuple[tuple[TrackEvent, str], ...] = ()
    """Property events refused (wrong type for a key), with the reason: dead letters."""
    properties_changed: bool = False
    """The property document changed (or a merge may have changed it): publish it."""


def _copy(profile: Any) -> Profile:
    # orjson round trip: a deep copy of plain JSON data, several times faster than deepcopy.
    return normalize(orjson.loads(orjson.dumps(profile)) if profile is not None else None)


def apply_events(
    defs: Definitions,
    profile: Any,
    events: Iterable[TrackEvent],
    now: int,
    *,
    user_id: str = "",
    project: str = "",
    owned: bool = False,
    segments: SegmentSet | None = None,
) -> Evaluation:
    """Fold ``events`` (one record's, in order) into ``profile`` and evaluate the tags once.

    ``profile_*`` events update the property document instead (see
    :mod:`streams.domain.properties`); one with a wrong type for a key is returned in
    ``rejected`` and the others still apply. With ``segments``, the memberships of the
    user's project are evaluated after the tags.

    A change's cause is the id of the last applied event. ``profile`` may be None (a new
    user) or an older stored profile (missing fields get defaults). ``owned=True`` hands
    ``profile`` over (the caller never looks at it again, e.g. it was just decoded from
    storage): it is then updated in place instead of copied first.
    """
    p = normalize(profile) if owned else _copy(profile)
    if user_id:
        p["uid"] = user_id
    if project:
        p["project"] = project
    credits: list[Credit] = []
    cause = ""
    applied = 0
    rejected: list[tuple[TrackEvent, str]] = []
    props_changed = False
    for e in events:
        if e.type in PROPERTY_TYPES:
            if not remember(defs, p, e.event_id):
                continue
            reason = apply_operation(p["properties"], e.type, e.properties, e.time)
            if reason is not None:
                rejected.append((e, reason))
                continue
            applied += 1
            cause = e.event_id
            props_changed = True
            continue
        ok, credit = fold_event(defs, p, e)
        if ok:
            applied += 1
            cause = e.event_id
        if credit is not None:
            credits.append(credit)
    if not applied:
        return Evaluation(p, rejected=tuple(rejected))
    return _finish(
        defs,
        p,
        now,
        cause,
        applied=applied,
        credits=tuple(credits),
        segments=segments,
        rejected=tuple(rejected),
        properties_changed=props_changed,
    )


def evaluate(defs: Definitions, profile: Any, event: TrackEvent, now: int) -> Evaluation:
    """One event: :func:`apply_events` with a single event."""
    return apply_events(defs, profile, (event,), now)


def tick(
    defs: Definitions,
    profile: Any,
    now: int,
    *,
    cause: str = TIMER,
    segments: SegmentSet | None = None,
) -> Evaluation:
    """Re-evaluate at ``now`` without an event (timers, merges, new segment definitions).

    After a merge (``cause="merge"``) the property document is reported as changed.
    """
    return _finish(
        defs, _copy(profile), now, cause, segments=segments, properties_changed=cause == "merge"
    )


def credit_referral(
    defs: Definitions,
    profile: Any,
    credit: Credit,
    now: int,
    *,
    segments: SegmentSet | None = None,
) -> Evaluation:
    """Count ``credit.invitee`` as a successful invitee of this user (once per invitee)."""
    p = _copy(profile)
    if credit.invitee in p["invitees"]:
        return Evaluation(p)
    if not p["uid"]:
        p["uid"] = credit.inviter
    p["invitees"] = [*p["invitees"], credit.invitee]
    return _finish(defs, p, now, f"referral:{credit.invitee}", segments=segments)


def _finish(
    defs: Definitions,
    p: Profile,
    now: int,
    cause: str,
    *,
    applied: int = 0,
    credits: tuple[Credit, ...] = (),
    segments: SegmentSet | None = None,
    rejected: tuple[tuple[TrackEvent, str], ...] = (),
    properties_changed: bool = False,
) -> Evaluation:
    prune(defs, p, now)
    tags, errors = compute_tags(defs, p, now)
    changes = diff(p["uid"], p["tags"], tags, now, cause)
    for loser, old in sorted(p["retired"].items()):
        changes.extend(diff(loser, old, {}, now, "merge"))
    p["retired"] = {}
    p["tags"] = tags
    moves: list[SegmentChange] = []
    if segments is not None:
        moves, failed = _segments(segments, p, now, cause)
        errors.extend((f"segment:{name}", reason) for name, reason in failed)
    p["due"] = next_due(defs, p, now) or 0
    p["updated_at"] = now
    return Evaluation(
        p,
        tuple(changes),
        credits,
        applied,
        tuple(errors),
        tuple(moves),
        rejected,
        properties_changed,
    )


def _segments(
    segments: SegmentSet, p: Profile, now: int, cause: str
) -> tuple[list[SegmentChange], list[tuple[str, str]]]:
    """Recompute the memberships of ``p`` (in place); the enter/exit records and failures."""
    members, failed = evaluate_segments(
        segments.for_project(p["project"]), p["tags"], property_values(p["properties"]), now
    )
    moves = membership_changes(p["uid"], p["segments"], members, now, cause)
    for loser, old in sorted(p["retired_segments"].items()):
        moves.extend(membership_changes(loser, old, (), now, "merge"))
    p["retired_segments"] = {}
    p["segments"] = members
    return moves, failed


def diff(
    user_id: str, old: dict[str, TagValue], new: dict[str, TagValue], at: int, cause: str
) -> list[TagChange]:
    """The changes from ``old`` to ``new`` tags, in tag-name order."""
    changes = [
        TagChange(user_id, tag, before, after, at, cause)
        for tag, after in new.items()
        if (before := old.get(tag)) != after or type(before) is not type(after)
    ]
    changes += [
        TagChange(user_id, tag, v, None, at, cause) for tag, v in old.items() if tag not in new
    ]
    changes.sort(key=_by_tag)
    return changes


def _by_tag(change: TagChange) -> str:
    return change.tag


def _window_orders(p: Profile, today: int, days: int) -> tuple[int, float]:
    since = today - days
    rows = [v for d, v in p["order_days"].items() if int(d) > since]
    return int(sum(v[0] for v in rows)), round(sum(v[1] for v in rows), 2)


def _touch_tags(prefix: str, touch: dict[str, Any] | None, tags: dict[str, TagValue]) -> None:
    if touch is None:
        return
    for name in TOUCH_FIELDS:
        value = touch.get(name)
        if value not in (None, ""):
            tags[f"{prefix}_{name}"] = value


def compute_tags(
    defs: Definitions, p: Profile, now: int
) -> tuple[dict[str, TagValue], list[tuple[str, str]]]:
    """Every tag of the profile at ``now``, and the rules that failed to evaluate."""
    tags: dict[str, TagValue] = {}
    if not p["first_seen"]:
        _referral_tags(defs, p, tags)
        return tags, []
    tags["first_seen"] = p["first_seen"]
    tags["last_seen"] = p["last_seen"]
    tags["first_platform"] = p["first_platform"]
    tags["platforms"] = ",".join(p["platforms"])
    _touch_tags("first", p["first_touch"], tags)
    _touch_tags("latest", p["latest_touch"], tags)
    today = local_day(defs, now)
    windows = window_counts(defs, p, today)
    for days, per_event in windows.items():
        for name, n in per_event.items():
            if n:
                tags[f"count_{days}d:{name}"] = n
    if p["orders"]:
        tags["orders"] = p["orders"]
        tags["total_paid"] = p["paid"]
        tags["first_order_at"] = p["first_order_at"]
        tags["last_order_at"] = p["last_order_at"]
    if p["categories"]:
        tags["favourite_category"] = min(p["categories"].items(), key=lambda kv: (-kv[1], kv[0]))[0]
    if defs.content is not None:
        for name in content.top(defs.content, p["interests"], now):
            tags[f"interest:{name}"] = True
    if defs.lifecycle is not None:
        last_active = p["last_visit"] or p["last_seen"]
        found = lifecycle.stage(defs.lifecycle, p["first_seen"], last_active, now)
        if found is not None:
            tags["lifecycle"] = found
    if p["orders"]:
        tags["paying"] = True
    if p["orders"] >= 2:
        tags["repeat_buyer"] = True
    if defs.rfm is not None and p["orders"]:
        n, amount = _window_orders(p, today, defs.rfm.window_days)
        days = days_since(defs, p["last_order_at"], now)
        r, f, m, segment = rfm.rfm(defs.rfm, days, n, amount)
        tags.update(rfm_r=r, rfm_f=f, rfm_m=m, rfm_segment=segment)
    tier = rfm.value_tier(defs.value_tiers, p["paid"]) if p["paid"] > 0 else None
    if tier is not None:
        tags["value_tier"] = tier
    _referral_tags(defs, p, tags)
    if not defs.rules:
        return tags, []
    errors = evaluate_rules(defs.rules, Facts(defs, p, now, tags, windows).get, tags)
    return tags, errors


def _referral_tags(defs: Definitions, p: Profile, tags: dict[str, TagValue]) -> None:
    if defs.referral is None:
        return
    if p["inviter"]:
        tags["inviter"] = p["inviter"]
    if p["invitees"]:
        tags["invitees"] = len(p["invitees"])
        if len(p["invitees"]) >= defs.referral.koc_min:
            tags["koc"] = True


def next_due(defs: Definitions, p: Profile, now: int) -> int | None:
    """The earliest time after ``now`` at which a tag may change with no new event."""
    if not p["first_seen"]:
        return None
    candidates: list[int] = []
    if defs.lifecycle is not None:
        last_active = p["last_visit"] or p["last_seen"]
        found = lifecycle.next_change(defs.lifecycle, p["first_seen"], last_active, now)
        if found is not None:
            candidates.append(found)
    # Day-based facts (rolling windows, "yesterday", days since, RFM recency) change at
    # local midnight; past the longest look-back nothing day-based moves any more.
    latest = max(p["last_seen"], p["last_order_at"])
    if local_day(defs, now) - local_day(defs, latest) <= defs.horizon_days:
        candidates.append((local_day(defs, now) + 1) * DAY_MS - defs.utc_offset)
    hourly = {HOURLY_FACTS[v] for r in defs.rules for v in r.variables if v in HOURLY_FACTS}
    for field_name in hourly:
        then: int = p[field_name]  # type: ignore[literal-required]
        if then and now - then < defs.hourly_horizon:
            candidates.append(then + ((now - then) // HOUR_MS + 1) * HOUR_MS)
    return min(candidates) if candidates else None
