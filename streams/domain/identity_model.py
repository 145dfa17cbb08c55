"""The identity graph's records: users, assignments, merges, conflicts, decisions.

Plain frozen data shared by the decisions in :mod:`streams.domain.identity` and the
code that stores and publishes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from streams.domain.identity_rules import Identity

__all__ = [
    "USER_ID",
    "Assignment",
    "Conflict",
    "GraphView",
    "Link",
    "Merge",
    "Outcome",
    "UserRecord",
    "identities_by_type",
    "new_user_id",
    "orphan_user_id",
    "user_from_doc",
    "user_to_doc",
]

USER_ID = "user_id"
"""Identity type of a user id itself: past user ids of a merged user resolve to it."""

Outcome = Literal["known", "created", "joined", "merged", "conflict", "unbound", "orphan"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user: its identities (sorted), creation time, and the user ids merged into it.

    A merged-away user keeps only ``merged_into`` (its survivor) and ``merge_event``.
    """

    user_id: str
    created: int
    version: int
    identities: tuple[Identity, ...] = ()
    aliases: tuple[str, ...] = ()
    merged_into: str | None = None
    merge_event: str = ""


class GraphView(Protocol):
    """Read access to the stored graph of one project."""

    def owner(self, project: str, identity: Identity) -> str | None:
        """The user id the identity is assigned to, None when unknown or unbound."""

    def user(self, project: str, user_id: str) -> UserRecord | None:
        """The stored record of a user, None when unknown."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """``identity`` belongs to ``user_id`` (None: unbound) as of ``version``."""

    identity: Identity
    user_id: str | None
    version: int


@dataclass(frozen=True, slots=True)
class Merge:
    loser: str
    survivor: str
    reason: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """``identity`` stays with ``user_id``: linking it to ``other_user_id`` was refused."""

    identity: Identity
    user_id: str
    other_user_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Link:
    """The decision for one event: its user, what to store, what to publish."""

    user_id: str
    outcome: Outcome
    users: tuple[UserRecord, ...] = ()
    owners: tuple[Assignment, ...] = ()
    published: tuple[Assignment, ...] = ()
    merges: tuple[Merge, ...] = ()
    conflicts: tuple[Conflict, ...] = ()


def _digest(*parts: str) -> str:
    return "u" + hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def new_user_id(project: str, identity: Identity, attempt: int = 0) -> str:
    """The id of a user created for ``identity`` (``attempt`` > 0 after an id is taken)."""
    return _digest(project, identity.key, identity.value, str(attempt))


def orphan_user_id(project: str, event_id: str) -> str:
    """The user of an event without a usable identity: its own, never linked."""
    return _digest(project, "event", event_id)


def identities_by_type(identities: Iterable[Identity]) -> Mapping[str, list[str]]:
    """``{key: [values…]}`` sorted, as the lookup API answers them."""
    grouped: dict[str, list[str]] = {}
    for identity in sorted(identities):
        grouped.setdefault(identity.key, []).append(identity.value)
    return grouped


def user_to_doc(record: UserRecord) -> dict[str, object]:
    """A compact JSON-able form of a user record (the stored state)."""
    if record.merged_into is not None:
        return {
            "t": record.created,
            "s": record.version,
            "m": record.merged_into,
            "e": record.merge_event,
        }
    doc: dict[str, object] = {
        "t": record.created,
        "s": record.version,
        "i": identities_by_type(record.identities),
    }
    if record.aliases:
        doc["a"] = list(record.aliases)
    return doc


def user_from_doc(user_id: str, doc: Mapping[str, Any]) -> UserRecord:
    """The inverse of :func:`user_to_doc`."""
    identities = tuple(
        sorted(Identity(key, value) for key, values in doc.get("i", {}).items() for value in values)
    )
    return UserRecord(
        user_id=user_id,
        created=int(doc["t"]),
        version=int(doc["s"]),
        identities=identities,
        aliases=tuple(doc.get("a", ())),
        merged_into=doc.get("m"),
        merge_event=str(doc.get("e", "")),
    )
