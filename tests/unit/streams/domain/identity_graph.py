"""An in-memory identity graph for unit tests: stores what :func:`link` decides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.domain.identity import link
from streams.domain.identity_model import Assignment, Conflict, Link, Merge, UserRecord
from streams.domain.identity_rules import DEFAULT_RULES, Identity, IdentityRules
from streams.domain.stitching import plan_record

PROJECT = "default"


@dataclass
class MemoryGraph:
    rules: IdentityRules = DEFAULT_RULES
    owners: dict[tuple[str, Identity], str | None] = field(default_factory=dict)
    users: dict[tuple[str, str], UserRecord] = field(default_factory=dict)
    published: dict[tuple[str, Identity], Assignment] = field(default_factory=dict)
    merges: list[Merge] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    version: int = 0

    # GraphView
    def owner(self, project: str, identity: Identity) -> str | None:
        return self.owners.get((project, identity))

    def user(self, project: str, user_id: str) -> UserRecord | None:
        return self.users.get((project, user_id))

    def store(self, result: Link, project: str = PROJECT) -> None:
        for record in result.users:
            self.users[(project, record.user_id)] = record
        for a in result.owners:
            self.owners[(project, a.identity)] = a.user_id
        for a in result.published:
            self.published[(project, a.identity)] = a
        self.merges.extend(result.merges)
        self.conflicts.extend(result.conflicts)

    def decide(
        self,
        identities: Mapping[str, str],
        *,
        event_id: str = "e",
        event_type: str = "track",
        time: int = 0,
        project: str = PROJECT,
    ) -> Link:
        self.version += 1
        return link(
            self.rules,
            self,
            project=project,
            event_id=event_id,
            event_type=event_type,
            identities=self.rules.normalize_all(identities),
            time=time,
            version=self.version,
        )

    def send(self, identities: Mapping[str, str], **kwargs: object) -> str:
        """Decide and store one event; return its user id."""
        result = self.decide(identities, **kwargs)  # type: ignore[arg-type]
        self.store(result, str(kwargs.get("project", PROJECT)))
        return result.user_id

    def fast(self, identities: Mapping[str, str], *, event_type: str = "track") -> str | None:
        plan = plan_record(
            self.rules,
            lambda i: self.owner(PROJECT, i),
            PROJECT,
            [("fast", event_type, identities)],
        )
        return plan.users[0] if plan.users is not None else None

    def user_of(self, key: str, value: str, project: str = PROJECT) -> str | None:
        return self.owners.get((project, Identity(key, value)))

    def groups(self) -> set[frozenset[Identity]]:
        """The graph as a partition of identities into users (ids aside)."""
        by_user: dict[str, set[Identity]] = {}
        for (_, identity), user_id in self.owners.items():
            if user_id is not None:
                by_user.setdefault(user_id, set()).add(identity)
        return {frozenset(v) for v in by_user.values()}
