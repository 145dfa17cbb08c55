"""The per-user profile (facts the tags are computed from) and folding events into it.

A profile is a JSON-compatible dict (it is stored as is in the ``user_profiles`` state
table). Daily buckets are keyed by the *local* day number of the operations team's
calendar (:attr:`Definitions.utc_offset`), so "yesterday" and 7-day windows follow the
team's days. Buckets older than :attr:`Definitions.horizon_days` are pruned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, TypedDict

from streams.domain import content
from streams.domain.events import TrackEvent
from streams.domain.scenes import TOUCH_FIELDS, touch_of
from streams.domain.tag_definitions import DAY_MS, Definitions, TagValue

__all__ = [
    "Credit",
    "Profile",
    "fold_event",
    "local_day",
    "new_profile",
    "normalize",
    "prune",
    "remember",
]


class Profile(TypedDict):
    uid: str
    project: str
    first_seen: int
    last_seen: int
    last_visit: int
    first_platform: str
    platforms: list[str]
    first_touch: dict[str, Any] | None
    latest_touch: dict[str, Any] | None
    daily: dict[str, dict[str, int]]
    """Event name → local day → events that day (counted events only)."""
    visit_days: list[int]
    orders: int
    paid: float
    first_order_at: int
    last_order_at: int
    order_days: dict[str, list[float]]
    """Local day → [orders, amount]."""
    last_cart_at: int
    categories: dict[str, int]
    interests: dict[str, list[float]]
    """Content tag → [score, at]."""
    inviter: str
    referral_credited: bool
    invitees: list[str]
    seen_ids: list[str]
    tags: dict[str, TagValue]
    """The tags last published for this user."""
    retired: dict[str, dict[str, TagValue]]
    """Users merged into this one whose published tags are still to be removed."""
    properties: dict[str, Any]
    """The user property document (:mod:`streams.domain.properties`)."""
    segments: list[str]
    """The segments last published for this user (sorted)."""
    retired_segments: dict[str, list[str]]
    """Users merged into this one whose segment memberships are still to be ended."""
    due: int
    """When a timer must re-evaluate this user (0: never)."""
    updated_at: int


@dataclass(frozen=True, slots=True)
class Credit:
    """An invitee's invitation became successful: credit ``inviter`` once."""

    inviter: str
    invitee: str
    at: int


# A first visit without source information is "direct" unless the entry that carries its
# source (a mini-program launch with its scene) arrives within the same visit.
_SAME_VISIT_MS = 30 * 60 * 1000


def new_profile(uid: str = "", project: str = "") -> Profile:
    return {
        "uid": uid,
        "project": project,
        "first_seen": 0,
        "last_seen": 0,
        "last_visit": 0,
        "first_platform": "",
        "platforms": [],
        "first_touch": None,
        "latest_touch": None,
        "daily": {},
        "visit_days": [],
        "orders": 0,
        "paid": 0.0,
        "first_order_at": 0,
        "last_order_at": 0,
        "order_days": {},
        "last_cart_at": 0,
        "categories": {},
        "interests": {},
        "inviter": "",
        "referral_credited": False,
        "invitees": [],
        "seen_ids": [],
        "tags": {},
        "retired": {},
        "properties": {"values": {}, "meta": {}},
        "segments": [],
        "retired_segments": {},
        "due": 0,
        "updated_at": 0,
    }


def normalize(state: Any) -> Profile:
    """A stored state as a complete profile (fields added later get their defaults)."""
    if state is None:
        return new_profile()
    profile: Profile = {**new_profile(), **state}
    return profile


def local_day(defs: Definitions, ms: int) -> int:
    return (ms + defs.utc_offset) // DAY_MS


def _id_hash(event_id: str) -> str:
    # 12 hex digits: collisions among the few hundred ids kept per user are negligible,
    # and the profile stays small.
    return hashlib.blake2b(event_id.encode(), digest_size=6).hexdigest()


def _amount(raw: object) -> float:
    if isinstance(raw, bool):
        return 0.0
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            return 0.0
    return 0.0


def _sharer(event: TrackEvent) -> str:
    share = event.context.get("share")
    if not isinstance(share, dict):
        return ""
    for name in ("sharer_user_id", "sharer"):
        value = share.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def remember(defs: Definitions, p: Profile, event_id: str) -> bool:
    """Note ``event_id`` as applied (in place); False when it was seen recently."""
    h = _id_hash(event_id)
    if h in p["seen_ids"]:
        return False
    p["seen_ids"].append(h)
    if len(p["seen_ids"]) > defs.dedupe_ids:
        del p["seen_ids"][: len(p["seen_ids"]) - defs.dedupe_ids]
    return True


def fold_event(defs: Definitions, p: Profile, e: TrackEvent) -> tuple[bool, Credit | None]:
    """Add one event's facts to ``p`` (in place). Returns (applied, referral credit).

    ``applied`` is False when the event id was seen recently (a re-sent event).
    """
    if not remember(defs, p, e.event_id):
        return False, None
    if e.user_id and not p["uid"]:
        p["uid"] = e.user_id
    t, name = e.time, e.event
    if not p["first_seen"] or t < p["first_seen"]:
        p["first_seen"] = t
        p["first_platform"] = e.platform
    p["last_seen"] = max(p["last_seen"], t)
    if e.platform and e.platform not in p["platforms"]:
        p["platforms"] = sorted([*p["platforms"], e.platform])
    day = local_day(defs, t)
    if name in defs.events.visits:
        p["last_visit"] = max(p["last_visit"], t)
        if day not in p["visit_days"]:
            p["visit_days"] = sorted([*p["visit_days"], day])
    if name in defs.events.counted:
        buckets = p["daily"].setdefault(name, {})
        buckets[str(day)] = buckets.get(str(day), 0) + 1
    _fold_touch(defs, p, e)
    if name == defs.events.product:
        category = e.properties.get(defs.events.category_property)
        if isinstance(category, str) and category:
            p["categories"][category] = p["categories"].get(category, 0) + 1
    if name == defs.events.cart:
        p["last_cart_at"] = max(p["last_cart_at"], t)
    if name == defs.events.order:
        amount = _amount(e.properties.get(defs.events.amount_property))
        p["orders"] += 1
        p["paid"] = round(p["paid"] + amount, 2)
        if not p["first_order_at"] or t < p["first_order_at"]:
            p["first_order_at"] = t
        p["last_order_at"] = max(p["last_order_at"], t)
        n, total = p["order_days"].get(str(day), [0, 0.0])
        p["order_days"][str(day)] = [n + 1, round(total + amount, 2)]
    if defs.content is not None:
        content.observe(defs.content, p["interests"], e)
    return True, _fold_referral(defs, p, e)


def _fold_touch(defs: Definitions, p: Profile, e: TrackEvent) -> None:
    touch = touch_of(defs.scenes, e)
    first = p["first_touch"]
    if touch is None:
        if first is None:
            direct: dict[str, Any] = {field: "" for field in TOUCH_FIELDS}
            direct.update(channel=defs.scenes.direct, scene=None, platform=e.platform)
            p["first_touch"] = p["latest_touch"] = {**direct, "at": e.time, "inferred": True}
        return
    if (
        first is None
        or touch["at"] < first["at"]
        or (first.get("inferred") and touch["at"] - first["at"] <= _SAME_VISIT_MS)
    ):
        p["first_touch"] = touch
    latest = p["latest_touch"]
    if latest is None or touch["at"] >= latest["at"] or latest.get("inferred"):
        p["latest_touch"] = touch


def _fold_referral(defs: Definitions, p: Profile, e: TrackEvent) -> Credit | None:
    if defs.referral is None:
        return None
    sharer = _sharer(e)
    if sharer and not p["inviter"] and sharer != p["uid"]:
        p["inviter"] = sharer
    if e.event in defs.referral.success_events and p["inviter"] and not p["referral_credited"]:
        p["referral_credited"] = True
        return Credit(inviter=p["inviter"], invitee=p["uid"], at=e.time)
    return None


def prune(defs: Definitions, p: Profile, now: int) -> None:
    """Forget daily buckets older than the longest window (in place)."""
    oldest = local_day(defs, now) - defs.horizon_days
    for name in list(p["daily"]):
        buckets = {d: n for d, n in p["daily"][name].items() if int(d) > oldest}
        if buckets:
            p["daily"][name] = buckets
        else:
            del p["daily"][name]
    p["visit_days"] = [d for d in p["visit_days"] if d > oldest]
    p["order_days"] = {d: v for d, v in p["order_days"].items() if int(d) > oldest}
