"""The lookup service's view of properties, segment members, definitions, subscriptions.

Fed by ``properties.changes`` / ``segments.changes`` (bootstrapped from
``siyu.user_properties`` / ``siyu.segment_members``) and by the configuration topics.
Applying is order-tolerant like the tag view: a record older than what is held for the
same key is ignored, so a bootstrap followed by a replay ends in the latest state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sortedcontainers import SortedList

from schemas.segment_records import SegmentChanges, Subscription, UserProperties
from streams.domain.segments import SegmentDef, SegmentSet

__all__ = ["PropertyIndex", "SegmentIndex", "SubscriptionIndex"]

_SEP = "\x1f"


class PropertyIndex:
    def __init__(self) -> None:
        self._held: dict[str, tuple[dict[str, Any], int]] = {}

    def apply(self, record: UserProperties) -> None:
        key = f"{record.project}{_SEP}{record.user_id}"
        held = self._held.get(key)
        if held is None or held[1] <= record.at:
            self._held[key] = (record.properties, record.at)

    def get(self, project: str, user_id: str) -> tuple[dict[str, Any], int]:
        return self._held.get(f"{project}{_SEP}{user_id}", ({}, 0))

    def forget(self, project: str, user_id: str) -> None:
        self._held.pop(f"{project}{_SEP}{user_id}", None)


class SegmentIndex:
    """Members per segment (sorted by user id, for stable paging) and segments per user."""

    def __init__(self, shipped: tuple[SegmentDef, ...] = ()) -> None:
        self.definitions = SegmentSet(shipped=shipped)
        self._members: dict[str, SortedList] = {}
        self._state: dict[str, tuple[bool, int]] = {}
        self._of_user: dict[str, set[str]] = {}
        self._forgotten: set[str] = set()
        """Users forgotten by a privacy request: a replayed ``enter`` cannot bring them back."""

    # -- membership ----------------------------------------------------------------------
    def load(self, project: str, segment: str, user_id: str, at: int) -> None:
        """A member as stored in ``siyu.segment_members`` (bootstrap)."""
        self._set(project, segment, user_id, member=True, at=at)

    def apply(self, record: SegmentChanges) -> None:
        for c in record.changes:
            self._set(record.project, c.segment, c.user_id, member=c.change == "enter", at=c.at)

    def _set(self, project: str, segment: str, user_id: str, *, member: bool, at: int) -> None:
        if f"{project}{_SEP}{user_id}" in self._forgotten:
            return
        key = f"{project}{_SEP}{segment}{_SEP}{user_id}"
        held = self._state.get(key)
        if held is not None and held[1] > at:
            return
        self._state[key] = (member, at)
        members = self._members.setdefault(f"{project}{_SEP}{segment}", SortedList())
        mine = self._of_user.setdefault(f"{project}{_SEP}{user_id}", set())
        was = held is not None and held[0]
        if member and not was:
            members.add(user_id)
            mine.add(segment)
        elif was and not member:
            members.remove(user_id)
            mine.discard(segment)

    def forget(self, project: str, user_id: str) -> None:
        """Drop a user from every segment for good (a privacy request; the stitcher gives
        later events of the person's identities another user id or none)."""
        self._forgotten.add(f"{project}{_SEP}{user_id}")
        for segment in self._of_user.pop(f"{project}{_SEP}{user_id}", set()):
            members = self._members.get(f"{project}{_SEP}{segment}")
            if members is not None and user_id in members:
                members.remove(user_id)
            self._state.pop(f"{project}{_SEP}{segment}{_SEP}{user_id}", None)

    def segments_of(self, project: str, user_id: str) -> list[str]:
        return sorted(self._of_user.get(f"{project}{_SEP}{user_id}", ()))

    def count(self, project: str, segment: str) -> int:
        return len(self._members.get(f"{project}{_SEP}{segment}", ()))

    def page(self, project: str, segment: str, after: str, limit: int) -> list[str]:
        """Up to ``limit`` members whose user id sorts after ``after``."""
        members = self._members.get(f"{project}{_SEP}{segment}")
        if not members:
            return []
        start = members.bisect_right(after) if after else 0
        return list(members.islice(start, start + limit))

    def iterate(self, project: str, segment: str) -> Iterator[str]:
        """Every member at the time of the call, in user id order."""
        return iter(list(self._members.get(f"{project}{_SEP}{segment}", ())))

    # -- definitions ---------------------------------------------------------------------
    def define(self, project: str, definition: SegmentDef | None, name: str) -> None:
        self.definitions = self.definitions.with_runtime(project, definition, name)


class SubscriptionIndex:
    """Current subscriptions by id (a deleted one is kept as deleted, newest wins)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Subscription] = {}

    def apply(self, s: Subscription) -> None:
        held = self._by_id.get(s.id)
        if held is not None and held.deleted and not s.deleted:
            return  # a deleted subscription stays deleted (ids are never reused)
        self._by_id[s.id] = s

    def get(self, sub_id: str) -> Subscription | None:
        found = self._by_id.get(sub_id)
        return None if found is None or found.deleted else found

    def of_project(self, project: str) -> list[Subscription]:
        return sorted(
            (s for s in self._by_id.values() if s.project == project and not s.deleted),
            key=lambda s: (s.created_at, s.id),
        )

    def active(self) -> list[Subscription]:
        return sorted(
            (s for s in self._by_id.values() if not s.deleted), key=lambda s: (s.created_at, s.id)
        )
