"""Stitching a record's events to users: identity preparation, the fast path, grouping,
and the order of a partition's records across the two paths.

A Kafka record holds the events of one request that share a partition key. The record
is stitched as a whole: either every event resolves without changing the identity
graph (:func:`stitch_known`), or the whole record goes through the serialized link
path. Either way its stitched output carries the source record's origin and offset,
which per-user state uses to skip replays; it skips anything at or below the last
offset it applied, so a user's records must reach it in source order. The
:class:`LinkBarrier` keeps that order: while a record waits on the link path, later
records of the same partition that concern one of its users follow it there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from schemas.records import TrackEvent
from streams.domain.identity import resolve_known
from streams.domain.identity_rules import Identity, IdentityRules

__all__ = [
    "LinkBarrier",
    "Prepared",
    "Stitched",
    "group_by_user",
    "known_users",
    "prepare",
    "stitch_known",
]


@dataclass(frozen=True, slots=True)
class Prepared:
    """An event with normalized identities, and those identities by priority."""

    event: TrackEvent
    identities: list[Identity]


@dataclass(frozen=True, slots=True)
class Stitched:
    """The events of one record that belong to one user, in record order."""

    user_id: str
    events: tuple[TrackEvent, ...]


def prepare(rules: IdentityRules, event: TrackEvent) -> Prepared:
    """Normalize an event's identities: values of known types normalized (and hashed
    where the rules say so), junk values dropped, unknown types kept as sent.

    Idempotent: preparing a prepared event changes nothing.
    """
    identities = rules.normalize_all(event.identities)
    shown = {i.key: i.value for i in identities}
    for key, value in event.identities.items():
        if rules.spec(key) is None:
            shown.setdefault(key, value)
    if shown != event.identities:
        event = replace(event, identities=shown)
    return Prepared(event, identities)


def stitch_known(
    rules: IdentityRules,
    owner: Callable[[Identity], str | None],
    project: str,
    prepared: Sequence[Prepared],
) -> list[Stitched] | None:
    """The record's events grouped by user when none needs a graph change, else None."""
    pairs = []
    for p in prepared:
        user_id = resolve_known(
            rules,
            owner,
            project=project,
            event_id=p.event.event_id,
            event_type=p.event.type,
            identities=p.identities,
        )
        if user_id is None:
            return None
        pairs.append((user_id, p.event))
    return group_by_user(pairs)


def group_by_user(pairs: Iterable[tuple[str, TrackEvent]]) -> list[Stitched]:
    """One :class:`Stitched` per user, users in order of first appearance, with each
    event carrying its user id."""
    groups: dict[str, list[TrackEvent]] = {}
    for user_id, event in pairs:
        groups.setdefault(user_id, []).append(replace(event, user_id=user_id))
    return [Stitched(user_id, tuple(events)) for user_id, events in groups.items()]


def known_users(owner: Callable[[Identity], str | None], prepared: Iterable[Prepared]) -> set[str]:
    """Users already holding one of the record's identities."""
    found = set()
    for p in prepared:
        for identity in p.identities:
            user_id = owner(identity)
            if user_id is not None:
                found.add(user_id)
    return found


class LinkBarrier:
    """Keeps one source partition's records in order across the fast and the link path.

    ``decided`` is the highest offset of the partition the link path has finished
    (published by the link agent with its graph writes). A record sent to the link
    path is pending until then; a later record resolving to one of a pending record's
    users must take the link path too. After a jump in offsets (the first record
    seen, a restart, a rebalance, a replay) records sent by an earlier run may still
    wait on the link path, so every record takes it until the first one after the
    jump is decided.
    """

    def __init__(self) -> None:
        self._pending: deque[tuple[int, frozenset[str]]] = deque()
        self._hold_until = -1
        self._last: int | None = None

    def must_link(self, offset: int, users: Collection[str], decided: int) -> bool:
        """True when the record at ``offset``, resolving to ``users``, must be linked."""
        if self._last is None or offset != self._last + 1:
            self._hold_until = offset
            self._pending.clear()
        self._last = offset
        while self._pending and self._pending[0][0] <= decided:
            self._pending.popleft()
        if self._hold_until > decided:
            return True
        return any(not pending.isdisjoint(users) for _, pending in self._pending)

    def sent(self, offset: int, users: Iterable[str]) -> None:
        """The record at ``offset`` (concerning ``users``) went to the link path."""
        self._pending.append((offset, frozenset(users)))
