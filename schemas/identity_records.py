"""Identity map and conflict records (identity.map, identity.conflicts) and their codec."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.codec import codec

__all__ = [
    "IdentityAssignment",
    "IdentityConflict",
    "assignment_key",
    "decode_assignment",
    "decode_conflict",
    "encode_assignment",
    "encode_conflict",
]


@dataclass(frozen=True, slots=True)
class IdentityAssignment:
    """``(id_type, id_value)`` belongs to ``user_id`` (None: unbound) as of ``version``."""

    project: str
    id_type: str
    id_value: str
    user_id: str | None
    version: int
    time: int
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class IdentityConflict:
    """A refused link: the identity stays with ``user_id`` instead of ``other_user_id``."""

    project: str
    event_id: str
    time: int
    id_type: str
    id_value: str
    user_id: str
    other_user_id: str
    reason: str


def assignment_key(project: str, id_type: str, id_value: str) -> bytes:
    """Kafka key of an assignment: one key per identity, so the topic can be compacted."""
    return f"{project}\x1f{id_type}\x1f{id_value}".encode()


def encode_assignment(a: IdentityAssignment) -> bytes:
    return codec("identity_assignment").encode(
        {
            "project": a.project,
            "id_type": a.id_type,
            "id_value": a.id_value,
            "user_id": a.user_id,
            "version": a.version,
            "time": a.time,
            "event_id": a.event_id,
        }
    )


def decode_assignment(data: bytes) -> IdentityAssignment:
    return IdentityAssignment(**codec("identity_assignment").decode(data))


def encode_conflict(c: IdentityConflict) -> bytes:
    return codec("identity_conflict").encode(
        {
            "project": c.project,
            "event_id": c.event_id,
            "time": c.time,
            "id_type": c.id_type,
            "id_value": c.id_value,
            "user_id": c.user_id,
            "other_user_id": c.other_user_id,
            "reason": c.reason,
        }
    )


def decode_conflict(data: bytes) -> IdentityConflict:
    return IdentityConflict(**codec("identity_conflict").decode(data))
