"""Identity merge and state transfer records."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.codec import codec

__all__ = ["IdentityMerge", "decode_merge", "encode_merge"]


@dataclass(frozen=True, slots=True)
class IdentityMerge:
    """Users ``loser`` and ``survivor`` are one person; ``loser`` redirects to ``survivor``."""

    project: str
    loser: str
    survivor: str
    time: int
    event_id: str = ""
    reason: str = ""


def encode_merge(m: IdentityMerge) -> bytes:
    return codec("identity_merge").encode(
        {
            "project": m.project,
            "loser": m.loser,
            "survivor": m.survivor,
            "time": m.time,
            "event_id": m.event_id,
            "reason": m.reason,
        }
    )


def decode_merge(data: bytes) -> IdentityMerge:
    return IdentityMerge(**codec("identity_merge").decode(data))
