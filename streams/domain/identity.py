"""The identity graph's decisions: which user an event belongs to, and what changes.

Pure functions over a read-only :class:`GraphView`:

- The fast path (:func:`streams.domain.stitching.plan_record`): an event whose usable
  identities are all known and name one user gets that user, with no change to the
  graph.
- :func:`link` decides everything else (new identities, joins, merges, conflicts,
  unbinds) and returns what to store and what to publish. It runs for one event at a
  time, in one serialized order, so two events racing to link the same identities
  cannot disagree.

Rules (see :mod:`streams.domain.identity_rules` for the configuration):

- Identities of an event are considered highest priority first. The user of the
  highest-priority known identity is the *target*; users of the other known
  identities merge into it unless the merge would give the result more values of a
  limited type than allowed, or both users are logged in (``identified`` types).
  A refused merge is a :class:`Conflict`; that identity stays with its user.
- A new identity joins the target unless that breaks a limit (conflict); refused new
  identities start one new user together.
- The event belongs to the user that ends up holding its highest-priority identity.
- Two merging users: the older one survives (created earlier, then smaller user id),
  so the outcome does not depend on which side arrived first.
- ``track_id_unbind`` removes each of its identities from its user.
- An event without a usable identity (all junk or unknown types) is an orphan: it gets
  a user of its own, derived from its event id, and never touches the graph.

Idempotence: a replayed event is decided again against the graph its first run left
behind. It finds its identities assigned, changes nothing, and publishes the same
assignments again. If the first run stopped halfway through a merge (a worker killed
between writes), the replay finds the loser marked as merged by this very event,
finishes the rewrite and publishes the merge again; consumers apply a merge once per
(loser, survivor) pair.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from streams.domain.identity_model import (
    USER_ID,
    Assignment,
    Conflict,
    GraphView,
    Link,
    Merge,
    Outcome,
    UserRecord,
    new_user_id,
    orphan_user_id,
)
from streams.domain.identity_rules import Identity, IdentityRules

__all__ = ["link"]

# Redirect chains are short (one hop once a merge is fully written); the cap only
# guards against a corrupted cycle.
_MAX_CHAIN = 64


class _Txn:
    """Changes of one decision, layered over the stored view."""

    def __init__(
        self, rules: IdentityRules, view: GraphView, project: str, event_id: str, version: int
    ) -> None:
        self.rules = rules
        self.view = view
        self.project = project
        self.event_id = event_id
        self.version = version
        self.users: dict[str, UserRecord | None] = {}
        self.changed_users: dict[str, UserRecord] = {}
        self.owners: dict[Identity, str | None] = {}
        self.changed_owners: dict[Identity, str | None] = {}
        self.published: dict[Identity, str | None] = {}
        self.merges: dict[tuple[str, str], Merge] = {}
        self.conflicts: list[Conflict] = []
        self.created = False

    # -- reads ---------------------------------------------------------------------------
    def user(self, user_id: str) -> UserRecord | None:
        if user_id not in self.users:
            self.users[user_id] = self.view.user(self.project, user_id)
        return self.users[user_id]

    def live(self, user_id: str) -> UserRecord:
        record = self.user(user_id)
        if record is None or record.merged_into is not None:  # pragma: no cover - invariant
            raise KeyError(user_id)
        return record

    def stored_owner(self, identity: Identity) -> str | None:
        if identity in self.owners:
            return self.owners[identity]
        return self.view.owner(self.project, identity)

    def final(self, user_id: str | None) -> str | None:
        """The live user ``user_id`` ends at after merges; None if unknown.

        Merges this event made in an earlier, cut-short run are finished on the way.
        """
        for _ in range(_MAX_CHAIN):
            if user_id is None:
                return None
            record = self.user(user_id)
            if record is None:
                # An assignment written without its user (a run cut short): unknown.
                return None
            if record.merged_into is None:
                return user_id
            if record.merge_event == self.event_id:
                self._repair_merge(record)
            user_id = record.merged_into
        return None

    def owner(self, identity: Identity) -> str | None:
        """The live user holding ``identity``; a stale assignment is rewritten."""
        stored = self.stored_owner(identity)
        user_id = self.final(stored)
        if user_id is not None and user_id != stored:
            self.assign(identity, user_id)
        return user_id

    # -- writes --------------------------------------------------------------------------
    def put(self, record: UserRecord) -> None:
        record = replace(record, version=self.version)
        self.users[record.user_id] = record
        self.changed_users[record.user_id] = record

    def assign(self, identity: Identity, user_id: str | None) -> None:
        self.owners[identity] = user_id
        self.changed_owners[identity] = user_id
        self.published[identity] = user_id

    def create(self, identities: list[Identity], created: int) -> str:
        anchor = identities[0]
        attempt = 0
        while True:
            user_id = new_user_id(self.project, anchor, attempt)
            existing = self.user(user_id)
            if existing is None:
                record = UserRecord(user_id, created, self.version)
                break
            # Reuse the record a cut-short run of this same decision already wrote.
            if existing.merged_into is None and anchor in existing.identities:
                record = existing
                break
            attempt += 1
        self.put(replace(record, identities=tuple(sorted({*record.identities, *identities}))))
        for identity in identities:
            self.assign(identity, user_id)
        self.published[Identity(USER_ID, user_id)] = user_id
        self.created = True
        return user_id

    def add(self, user_id: str, identity: Identity) -> None:
        record = self.live(user_id)
        self.put(replace(record, identities=tuple(sorted({*record.identities, identity}))))
        self.assign(identity, user_id)

    def remove(self, user_id: str, identity: Identity) -> None:
        record = self.live(user_id)
        kept = tuple(i for i in record.identities if i != identity)
        self.put(replace(record, identities=kept))
        self.assign(identity, None)

    def merge(self, loser_id: str, survivor_id: str, reason: str) -> None:
        loser, survivor = self.live(loser_id), self.live(survivor_id)
        self.put(
            replace(
                survivor,
                identities=tuple(sorted({*survivor.identities, *loser.identities})),
                aliases=tuple(sorted({*survivor.aliases, *loser.aliases, loser_id})),
            )
        )
        self.put(
            UserRecord(
                loser_id,
                loser.created,
                self.version,
                merged_into=survivor_id,
                merge_event=self.event_id,
            )
        )
        for identity in loser.identities:
            self.assign(identity, survivor_id)
        for alias in (*loser.aliases, loser_id):
            self.published[Identity(USER_ID, alias)] = survivor_id
        self.merges[(loser_id, survivor_id)] = Merge(loser_id, survivor_id, reason)

    def _repair_merge(self, loser: UserRecord) -> None:
        """Publish again a merge this event made in an earlier run, and finish it."""
        survivor_id = loser.merged_into
        if survivor_id is None or (loser.user_id, survivor_id) in self.merges:
            return
        self.merges[(loser.user_id, survivor_id)] = Merge(loser.user_id, survivor_id, "link")
        final = self.final(survivor_id)
        if final is None:
            return
        self.published[Identity(USER_ID, loser.user_id)] = final
        for identity in self.live(final).identities:
            if self.stored_owner(identity) == final:
                self.published[identity] = final
            else:
                self.assign(identity, final)

    def replay_merges(self, user_id: str) -> None:
        """Merges into ``user_id`` made by this event: published again on a replay, in case
        the run that stored them stopped before publishing them."""
        for alias in self.live(user_id).aliases:
            record = self.user(alias)
            if record is not None and record.merge_event == self.event_id:
                self._repair_merge(record)

    # -- rules ---------------------------------------------------------------------------
    def merge_refusal(self, a: str, b: str) -> str | None:
        left, right = self.live(a), self.live(b)
        rules = self.rules
        if any(map(rules.identified, left.identities)) and any(
            map(rules.identified, right.identities)
        ):
            return "identified"
        return _over_limit(rules, (*left.identities, *right.identities))

    def add_refusal(self, user_id: str, identity: Identity) -> str | None:
        held = self.live(user_id).identities
        if identity in held:
            # Listed by the user but not assigned: a run cut short stored the record and
            # not the assignment. It is this user's already; assigning it again is no link.
            return None
        return _over_limit(self.rules, (*held, identity))

    def result(self, user_id: str, outcome: Outcome) -> Link:
        return Link(
            user_id=user_id,
            outcome=outcome,
            users=tuple(self.changed_users[k] for k in sorted(self.changed_users)),
            owners=tuple(
                Assignment(i, u, self.version)
                for i, u in sorted(self.changed_owners.items(), key=_by_identity)
            ),
            published=tuple(
                Assignment(i, u, self.version)
                for i, u in sorted(self.published.items(), key=_by_identity)
            ),
            merges=tuple(self.merges.values()),
            conflicts=tuple(self.conflicts),
        )


def _by_identity(item: tuple[Identity, str | None]) -> Identity:
    return item[0]


def _over_limit(rules: IdentityRules, identities: Iterable[Identity]) -> str | None:
    """``limit:<scope>`` for the first scope holding more values than allowed."""
    counts: dict[str, int] = {}
    for identity in identities:
        limit = rules.limit(identity)
        if limit is None:
            continue
        scope = rules.scope(identity)
        counts[scope] = counts.get(scope, 0) + 1
        if counts[scope] > limit:
            return f"limit:{scope}"
    return None


def link(
    rules: IdentityRules,
    view: GraphView,
    *,
    project: str,
    event_id: str,
    event_type: str,
    identities: list[Identity],
    time: int,
    version: int,
) -> Link:
    """Decide one event against the graph (see the module docstring for the rules).

    ``identities`` are the event's normalized identities, highest priority first
    (:meth:`IdentityRules.normalize_all`); ``time`` is the event time, which becomes
    the creation time of a user it creates; ``version`` stamps every change.
    """
    if not identities:
        return Link(orphan_user_id(project, event_id), "orphan")
    txn = _Txn(rules, view, project, event_id, version)
    if event_type == "track_id_unbind":
        return _unbind(txn, identities, event_id)
    owners = {identity: txn.owner(identity) for identity in identities}
    target: str | None = None
    for identity in identities:
        user_id = owners[identity]
        if user_id is None:
            continue
        user_id = txn.owner(identity)  # an earlier merge of this event may have moved it
        if user_id is None or target is None or user_id == target:
            target = target or user_id
            continue
        reason = txn.merge_refusal(target, user_id)
        if reason is not None:
            txn.conflicts.append(Conflict(identity, user_id, target, reason))
            continue
        survivor, loser = sorted(
            (txn.live(target), txn.live(user_id)), key=lambda r: (r.created, r.user_id)
        )
        txn.merge(loser.user_id, survivor.user_id, "link")
        target = survivor.user_id
    spilled: list[Identity] = []
    dropped: list[Identity] = []
    for identity in identities:
        if owners[identity] is not None:
            continue
        if target is not None and txn.add_refusal(target, identity) is None:
            txn.add(target, identity)
            continue
        # Refused by the target: starts a new user with the other refused ones, unless
        # the event itself holds two values of one limited type (the lower is dropped).
        fits = _over_limit(rules, (*spilled, identity)) is None
        (spilled if fits else dropped).append(identity)
    if spilled:
        started = txn.create(spilled, time)
        if target is not None:
            for identity in spilled:
                reason = txn.add_refusal(target, identity) or "limit"
                txn.conflicts.append(Conflict(identity, started, target, reason))
        target = target or started
    for identity in dropped:
        reason = _over_limit(rules, (*spilled, identity)) or "limit"
        txn.conflicts.append(Conflict(identity, "", target or "", reason))
    for identity in identities:
        holder = txn.owner(identity)
        if holder is not None and identity not in txn.live(holder).identities:
            # Assigned but not listed by its user: a run cut short stored the assignment
            # and not the user record. Listed again, so the user's limits see it.
            txn.add(holder, identity)
        if identity not in txn.published:
            txn.published[identity] = holder
    user_id = txn.owner(identities[0]) or target
    if user_id is None:  # pragma: no cover - every path above assigns a target
        raise AssertionError("link decided no user")
    txn.replay_merges(user_id)
    txn.published[Identity(USER_ID, user_id)] = user_id
    return txn.result(user_id, _outcome(txn))


def _outcome(txn: _Txn) -> Outcome:
    if txn.conflicts:
        return "conflict"
    if txn.merges:
        return "merged"
    if txn.created:
        return "created"
    return "joined" if txn.changed_owners else "known"


def _unbind(txn: _Txn, identities: list[Identity], event_id: str) -> Link:
    user_id: str | None = None
    for identity in identities:
        owner = txn.owner(identity)
        if owner is None:
            txn.published[identity] = None
            continue
        user_id = user_id or owner
        txn.remove(owner, identity)
    return txn.result(user_id or orphan_user_id(txn.project, event_id), "unbound")
