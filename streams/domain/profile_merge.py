"""Combine two users' profiles when the identity graph finds they are one person.

Counts add, first times take the minimum, last times the maximum, sets unite, first
touch is the earlier one and latest touch the later one; user properties follow
:func:`streams.domain.properties.merge_properties`. The survivor keeps the tags it
last published, and the loser's published tags are kept under ``retired``: the next
evaluation (:func:`streams.domain.tags.tick`, which the caller runs right after the
merge) publishes the survivor's recomputed tags (lifecycle and RFM included) and removes
the loser's; segment memberships of the loser (``retired_segments``) end the same way.
"""

from __future__ import annotations

from typing import Any

from streams.domain import content
from streams.domain.profile import Profile, normalize
from streams.domain.properties import merge_properties
from streams.domain.tag_definitions import Definitions

__all__ = ["merge"]


def _min_set(a: int, b: int) -> int:
    """The earlier of two times where 0 means unknown."""
    return min(t for t in (a, b) if t) if a or b else 0


def _add_days(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = dict(a)
    for day, n in b.items():
        merged[day] = merged.get(day, 0) + n
    return merged


def _touch(
    a: dict[str, Any] | None, b: dict[str, Any] | None, *, first: bool
) -> dict[str, Any] | None:
    if a is None or b is None:
        return a or b
    if a.get("inferred") != b.get("inferred"):
        # A real entry beats a "direct" guess made for lack of information.
        return b if a.get("inferred") else a
    if first:
        return a if a["at"] <= b["at"] else b
    return a if a["at"] >= b["at"] else b


def merge(defs: Definitions, survivor: Any, loser: Any, *, survivor_id: str = "") -> Profile:
    """The profile of the merged user. Commutative in facts; the survivor's id, project
    and published tags are kept. Pure: neither argument is modified."""
    a, b = normalize(survivor), normalize(loser)
    uid = survivor_id or a["uid"]
    out = normalize(None)
    out["uid"] = uid
    out["project"] = a["project"] or b["project"]
    out["first_seen"] = _min_set(a["first_seen"], b["first_seen"])
    earlier = a if a["first_seen"] and a["first_seen"] == out["first_seen"] else b
    out["first_platform"] = earlier["first_platform"]
    out["last_seen"] = max(a["last_seen"], b["last_seen"])
    out["last_visit"] = max(a["last_visit"], b["last_visit"])
    out["platforms"] = sorted(set(a["platforms"]) | set(b["platforms"]))
    out["first_touch"] = _touch(a["first_touch"], b["first_touch"], first=True)
    out["latest_touch"] = _touch(a["latest_touch"], b["latest_touch"], first=False)
    out["daily"] = {
        name: _add_days(a["daily"].get(name, {}), b["daily"].get(name, {}))
        for name in sorted(a["daily"].keys() | b["daily"].keys())
    }
    out["visit_days"] = sorted(set(a["visit_days"]) | set(b["visit_days"]))
    out["orders"] = a["orders"] + b["orders"]
    out["paid"] = round(a["paid"] + b["paid"], 2)
    out["first_order_at"] = _min_set(a["first_order_at"], b["first_order_at"])
    out["last_order_at"] = max(a["last_order_at"], b["last_order_at"])
    order_days = {d: list(v) for d, v in a["order_days"].items()}
    for day, (n, amount) in b["order_days"].items():
        old_n, old_amount = order_days.get(day, [0, 0.0])
        order_days[day] = [old_n + n, round(old_amount + amount, 2)]
    out["order_days"] = order_days
    out["last_cart_at"] = max(a["last_cart_at"], b["last_cart_at"])
    out["categories"] = _add_days(a["categories"], b["categories"])
    if defs.content is not None:
        out["interests"] = content.merge_interests(defs.content, a["interests"], b["interests"])
    else:
        out["interests"] = dict(a["interests"])
    # The survivor's inviter wins; a user cannot be their own inviter.
    inviter = a["inviter"] or b["inviter"]
    out["inviter"] = "" if inviter in (uid, b["uid"]) else inviter
    out["referral_credited"] = a["referral_credited"] or b["referral_credited"]
    out["invitees"] = sorted((set(a["invitees"]) | set(b["invitees"])) - {uid, b["uid"]})
    out["seen_ids"] = (a["seen_ids"] + [i for i in b["seen_ids"] if i not in a["seen_ids"]])[
        -defs.dedupe_ids :
    ]
    out["tags"] = dict(a["tags"])
    out["retired"] = {**a["retired"], **b["retired"]}
    if b["tags"] and b["uid"] and b["uid"] != uid:
        out["retired"][b["uid"]] = dict(b["tags"])
    out["properties"] = merge_properties(a["properties"], b["properties"])
    out["segments"] = list(a["segments"])
    out["retired_segments"] = {**a["retired_segments"], **b["retired_segments"]}
    if b["segments"] and b["uid"] and b["uid"] != uid:
        out["retired_segments"][b["uid"]] = list(b["segments"])
    out["due"] = 1  # re-evaluate at once
    out["updated_at"] = max(a["updated_at"], b["updated_at"])
    return out
