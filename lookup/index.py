"""The lookup service's in-memory view: identity → user, user → identities, user → tags.

Fed by ``identity.map`` assignments and ``tags.changes`` records (and bootstrapped from
their ClickHouse tables). Applying is order-tolerant: an assignment replaces what is
held only when its version is not older, a tag change only when it is not older than
the tag's value held, so a bootstrap followed by a replay of the topics from their
start ends in the latest state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.identity_records import IdentityAssignment
from schemas.tag_records import TagChanges
from streams.domain.identity_model import USER_ID

__all__ = ["IdentityIndex", "TagIndex", "UserView", "view"]

_SEP = "\x1f"


@dataclass(frozen=True, slots=True)
class UserView:
    """What the lookup API answers for one user."""

    user_id: str
    identities: dict[str, list[str]]
    tags: dict[str, Any]
    updated_at: int


class IdentityIndex:
    """Identity → (user, version) and user → identities, for every project."""

    def __init__(self) -> None:
        self._owner: dict[str, tuple[str | None, int]] = {}
        self._identities: dict[str, set[str]] = {}
        self._updated: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._owner)

    def apply(self, a: IdentityAssignment) -> bool:
        """Apply one assignment; False when an equal or newer one is already held."""
        key = f"{a.project}{_SEP}{a.id_type}{_SEP}{a.id_value}"
        held = self._owner.get(key)
        if held is not None and held[1] >= a.version:
            return False
        member = f"{a.id_type}{_SEP}{a.id_value}"
        if held is not None and held[0] is not None and held[0] != a.user_id:
            previous = f"{a.project}{_SEP}{held[0]}"
            found = self._identities.get(previous)
            if found is not None:
                found.discard(member)
                if not found:
                    del self._identities[previous]
        self._owner[key] = (a.user_id, a.version)
        if a.user_id is not None:
            user = f"{a.project}{_SEP}{a.user_id}"
            if a.id_type != USER_ID:
                self._identities.setdefault(user, set()).add(member)
            self._updated[user] = max(self._updated.get(user, 0), a.time)
        return True

    def resolve(self, project: str, id_type: str, id_value: str) -> str | None:
        """The current user of an identity (``id_type`` may be ``user_id``)."""
        held = self._owner.get(f"{project}{_SEP}{id_type}{_SEP}{id_value}")
        return held[0] if held is not None else None

    def identities(self, project: str, user_id: str) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for member in sorted(self._identities.get(f"{project}{_SEP}{user_id}", ())):
            id_type, _, value = member.partition(_SEP)
            grouped.setdefault(id_type, []).append(value)
        return grouped

    def updated_at(self, project: str, user_id: str) -> int:
        return self._updated.get(f"{project}{_SEP}{user_id}", 0)

    def forget(self, project: str, user_id: str) -> list[tuple[str, str]]:
        """Drop a user and every identity it holds; returns the identities dropped.

        The entries stay unknown after a replay only because the forget also publishes
        their unbinding on ``identity.map`` (newer versions than any held).
        """
        user = f"{project}{_SEP}{user_id}"
        members = sorted(self._identities.pop(user, ()))
        self._updated.pop(user, None)
        dropped = []
        for member in [*members, f"{USER_ID}{_SEP}{user_id}"]:
            self._owner.pop(f"{project}{_SEP}{member}", None)
            id_type, _, value = member.partition(_SEP)
            dropped.append((id_type, value))
        return dropped


class TagIndex:
    """Current tags per user, from ``tags.changes`` (and ``siyu.user_tags`` at start)."""

    def __init__(self) -> None:
        self._tags: dict[str, dict[str, tuple[Any, int]]] = {}

    def __len__(self) -> int:
        return len(self._tags)

    def load(self, project: str, user_id: str, tags: Mapping[str, Any], at: int) -> None:
        """A user's tags as stored at ``at`` (the bootstrap from ClickHouse)."""
        held = self._tags.setdefault(f"{project}{_SEP}{user_id}", {})
        for tag, value in tags.items():
            if tag not in held or held[tag][1] <= at:
                held[tag] = (value, at)

    def apply(self, record: TagChanges) -> None:
        held = self._tags.setdefault(f"{record.project}{_SEP}{record.user_id}", {})
        for change in record.changes:
            current = held.get(change.tag)
            if current is not None and current[1] > change.at:
                continue
            # A removal is kept as None with its time, so an older "added" cannot revive it.
            held[change.tag] = (change.new, change.at)

    def forget(self, project: str, user_id: str) -> None:
        self._tags.pop(f"{project}{_SEP}{user_id}", None)

    def tags(self, project: str, user_id: str) -> tuple[dict[str, Any], int]:
        """``(tags, last change ms)`` of a user; removed tags left out."""
        held = self._tags.get(f"{project}{_SEP}{user_id}")
        if not held:
            return {}, 0
        current = {tag: value for tag, (value, _) in sorted(held.items()) if value is not None}
        return current, max(at for _, at in held.values())


def view(identities: IdentityIndex, tags: TagIndex, project: str, user_id: str) -> UserView | None:
    """The answer for a user; None when the user is unknown."""
    ids = identities.identities(project, user_id)
    current, tagged_at = tags.tags(project, user_id)
    if not ids and identities.resolve(project, USER_ID, user_id) != user_id:
        return None
    updated = max(identities.updated_at(project, user_id), tagged_at)
    return UserView(user_id, ids, current, updated)
