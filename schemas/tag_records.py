"""Tag change records on ``tags.changes``: conversion between the domain and Avro."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.codec import codec
from streams.domain.tag_definitions import TagChange

__all__ = ["TagChanges", "decode_tag_changes", "encode_tag_changes"]


@dataclass(frozen=True, slots=True)
class TagChanges:
    """One user's changes from one evaluation (one Kafka record)."""

    project: str
    user_id: str
    changes: tuple[TagChange, ...]


def encode_tag_changes(project: str, user_id: str, changes: Sequence[TagChange]) -> bytes:
    return codec("tag_change").encode(
        {
            "project": project,
            "user_id": user_id,
            "changes": [
                {"tag": c.tag, "old": c.old, "new": c.new, "at": c.at, "cause": c.cause}
                for c in changes
            ],
        }
    )


def decode_tag_changes(data: bytes) -> TagChanges:
    d = codec("tag_change").decode(data)
    user_id: str = d["user_id"]
    return TagChanges(
        project=d["project"],
        user_id=user_id,
        changes=tuple(
            TagChange(user_id, c["tag"], c["old"], c["new"], c["at"], c["cause"])
            for c in d["changes"]
        ),
    )
