"""Identity merge and state transfer records."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.codec import codec, legacy_json

__all__ = [
    "IdentityMerge",
    "LateRecord",
    "MergedState",
    "StateTransfer",
    "decode_merge",
    "decode_transfer",
    "encode_merge",
    "encode_transfer",
]


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


@dataclass(frozen=True, slots=True)
class MergedState:
    """The state of ``loser`` in ``table``, to merge into the survivor (the key) once."""

    table: str
    loser: str
    merged_from: tuple[str, ...]
    state: Any
    """JSON-compatible; each table has its own shape."""


@dataclass(frozen=True, slots=True)
class LateRecord:
    """An ``events.stitched`` record of a merged-away user, for the user it redirects to."""

    table: str
    record: bytes
    origin: str
    offset: int


StateTransfer = MergedState | LateRecord


def encode_transfer(t: StateTransfer) -> bytes:
    body: dict[str, Any]
    if isinstance(t, MergedState):
        body = {
            "-type": "siyu.MergedState",
            "loser": t.loser,
            "merged_from": list(t.merged_from),
            "state": orjson.dumps(t.state).decode(),
        }
    else:
        body = {
            "-type": "siyu.LateRecord",
            "record": t.record,
            "origin": t.origin,
            "offset": t.offset,
        }
    return codec("state_transfer").encode({"table": t.table, "body": body})


def decode_transfer(data: bytes) -> StateTransfer:
    """A transfer; one written as JSON by an earlier version is read too."""
    old = legacy_json(data)
    if old is not None:
        if "late" in old:
            late = base64.b64decode(old["late"])
            return LateRecord(old["table"], late, old["origin"], old["offset"])
        return MergedState(old["table"], old["loser"], tuple(old["merged_from"]), old["state"])
    d = codec("state_transfer").decode(data)
    body = d["body"]
    if "record" in body:
        return LateRecord(d["table"], body["record"], body["origin"], body["offset"])
    return MergedState(
        d["table"], body["loser"], tuple(body["merged_from"]), orjson.loads(body["state"])
    )
