"""Lifecycle stage and buyer stage, and when the stage next changes with no new event.

new (within ``new_for`` of the first visit) → active → silent (no visit for
``silent_after``) → churned (no visit for ``churned_after``). Inactivity wins over
newness: a new user who stays away turns silent. Buyers: ``paying`` from the first order,
``repeat_buyer`` from the second.
"""

from __future__ import annotations

from streams.domain.tag_definitions import LifecycleDef

__all__ = ["STAGES", "next_change", "stage"]

STAGES = ("new", "active", "silent", "churned")


def stage(defs: LifecycleDef, first_seen: int, last_active: int, now: int) -> str | None:
    """The stage at ``now``; None for a user never seen."""
    if not first_seen:
        return None
    idle = now - last_active
    if idle >= defs.churned_after:
        return "churned"
    if idle >= defs.silent_after:
        return "silent"
    if now - first_seen < defs.new_for:
        return "new"
    return "active"


def next_change(defs: LifecycleDef, first_seen: int, last_active: int, now: int) -> int | None:
    """The earliest time after ``now`` at which :func:`stage` may give another answer."""
    if not first_seen:
        return None
    candidates = (
        first_seen + defs.new_for,
        last_active + defs.silent_after,
        last_active + defs.churned_after,
    )
    future = [t for t in candidates if t > now]
    return min(future) if future else None
