"""Stitching a record's events to users: identity preparation, the fast path, grouping,
and the order of a partition's records across the two paths.

A Kafka record holds the events of one request that share a partition key. The record
is stitched as a whole: either every event resolves without changing the identity
graph (:func:`plan_record`), or the whole record goes through the serialized link
path. Either way its stitched output carries the source record's origin and offset,
which per-user state uses to skip replays; it skips anything at or below the last
offset it applied, so a user's records must reach it in source order. The
:class:`LinkBarrier` keeps that order: while a record waits on the link path, later
records of the same partition that concern one of its users follow it there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from streams.domain.identity_model import orphan_user_id
from streams.domain.identity_rules import Identity, IdentityRules

__all__ = ["LinkBarrier", "RecordPlan", "plan_record", "prepare_identities"]


def prepare_identities(
    rules: IdentityRules, identities: Mapping[str, str]
) -> tuple[list[Identity], Mapping[str, str]]:
    """An event's usable identities by priority, and the identities it should carry:
    values of known types normalized (and hashed where the rules say so), junk values
    dropped, unknown types kept as sent. The mapping is ``identities`` itself when
    nothing changes. Idempotent.
    """
    normalized = rules.normalize_all(identities)
    shown = {i.key: i.value for i in normalized}
    for key, value in identities.items():
        if rules.spec(key) is None:
            shown.setdefault(key, value)
    return normalized, (identities if shown == identities else shown)


@dataclass(frozen=True, slots=True)
class RecordPlan:
    """How a record's events are stitched.

    ``users``: each event's user when no event needs a graph change, else None (the
    record takes the link path). ``identities``: each event's prepared identities.
    ``known``: users holding one of the record's identities now.
    """

    users: list[str] | None
    identities: list[Mapping[str, str]]
    known: set[str]


def plan_record(
    rules: IdentityRules,
    owner: Callable[[Identity], str | None],
    project: str,
    events: Sequence[tuple[str, str, Mapping[str, str]]],
) -> RecordPlan:
    """Plan a record of ``(event_id, type, identities)`` events.

    The events of one request nearly always carry the same identities, so the work
    per distinct identity set is done once.
    """
    memo: dict[tuple[tuple[str, str], ...], tuple[list[Identity], Mapping[str, str], str | None]]
    memo = {}
    users: list[str] | None = []
    shown_all: list[Mapping[str, str]] = []
    known: set[str] = set()
    for event_id, event_type, identities in events:
        key = tuple(identities.items())
        found = memo.get(key)
        if found is None:
            normalized, shown = prepare_identities(rules, identities)
            owners = [owner(i) for i in normalized]
            known.update(u for u in owners if u is not None)
            single = owners[0] if owners and all(u == owners[0] for u in owners) else None
            found = memo[key] = (normalized, shown, single)
        normalized, shown, single = found
        shown_all.append(shown)
        if users is None:
            continue
        if not normalized:
            users.append(orphan_user_id(project, event_id))
        elif single is None or event_type == "track_id_unbind":
            users = None
        else:
            users.append(single)
    return RecordPlan(users, shown_all, known)


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
