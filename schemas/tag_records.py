"""Tag records: changes on ``tags.changes`` and signals on the internal ``tags.signals``.

:func:`encode_tag_changes` writes the Avro single-object bytes directly (the tag agents
encode a record per evaluation; the generic fastavro writer cost as much as the whole
evaluation). It is byte-identical to :mod:`schemas.codec`, checked by
``tests/unit/schemas/test_tag_records.py``, and refuses to run against a schema it was not
written for.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from schemas.codec import codec, legacy_json
from streams.domain.tag_definitions import TagChange

__all__ = [
    "TagChanges",
    "TagSignal",
    "decode_tag_changes",
    "decode_tag_signal",
    "encode_tag_changes",
    "encode_tag_signal",
]


@dataclass(frozen=True, slots=True)
class TagChanges:
    """One user's changes from one evaluation (one Kafka record)."""

    project: str
    user_id: str
    changes: tuple[TagChange, ...]


# The schema this writer was written for (fields in order, union branches in order).
_EXPECTED = (
    ("project", "string"),
    ("user_id", "string"),
    ("changes", "array"),
)
_CHANGE = ("tag", "old", "new", "at", "cause")
_UNION = ["null", "boolean", "long", "double", "string"]


def _header() -> bytes:
    c = codec("tag_change")
    fields = c.schema["fields"]
    item = fields[2]["type"]["items"]
    shape = tuple((f["name"], f["type"] if isinstance(f["type"], str) else f["type"]["type"])
                  for f in fields)  # fmt: skip
    unions = [f["type"] for f in item["fields"] if f["name"] in ("old", "new")]
    if (
        shape != _EXPECTED
        or tuple(f["name"] for f in item["fields"]) != _CHANGE
        or any(u != _UNION for u in unions)
    ):
        raise RuntimeError("schemas/tag_change.avsc changed: update schemas/tag_records.py")
    return c.encode({"project": "", "user_id": "", "changes": []})[:10]


def _varint(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [_varint(n) for n in range(4096)]


def _long(n: int) -> bytes:
    return _SMALL[n] if 0 <= n < 4096 else _varint(n)


# Tag names and values repeat across users: their encoded form is kept (bounded).
_STRINGS: dict[str, bytes] = {}
_STRINGS_MAX = 65_536


def _str(text: str) -> bytes:
    found = _STRINGS.get(text)
    if found is None:
        raw = text.encode()
        found = _long(len(raw)) + raw
        if len(_STRINGS) < _STRINGS_MAX:
            _STRINGS[text] = found
    return found


def _varint_str(text: str) -> bytes:
    """A string that does not repeat (user ids, event ids): not cached."""
    raw = text.encode()
    return _long(len(raw)) + raw


def _value(v: Any) -> bytes:
    if v is None:
        return b"\x00"
    if v is True or v is False:
        return b"\x02\x01" if v else b"\x02\x00"
    if isinstance(v, int):
        return b"\x04" + _long(v)
    if isinstance(v, float):
        return b"\x06" + struct.pack("<d", v)
    return b"\x08" + _str(str(v))


_HEADER: bytes | None = None


def encode_tag_changes(project: str, user_id: str, changes: Sequence[TagChange]) -> bytes:
    global _HEADER
    if _HEADER is None:
        _HEADER = _header()
    parts = [_HEADER, _str(project), _varint_str(user_id)]
    if changes:
        parts.append(_long(len(changes)))
        # The changes of one evaluation share their time and cause: encode those once.
        last_at, at_bytes, last_cause, cause_bytes = -1, b"", "", b"\x00"
        for c in changes:
            if c.at != last_at:
                last_at, at_bytes = c.at, _varint(c.at)
            if c.cause != last_cause:
                last_cause, cause_bytes = c.cause, _varint_str(c.cause)
            parts += (_str(c.tag), _value(c.old), _value(c.new), at_bytes, cause_bytes)
    parts.append(b"\x00")
    return b"".join(parts)


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


@dataclass(frozen=True, slots=True)
class TagSignal:
    """A timer tick, a segment re-evaluation or a referral credit for the keyed user."""

    kind: Literal["tick", "segments", "credit"]
    project: str = ""
    invitee: str = ""
    """``credit``: the invitee whose invitation succeeded (the key is the inviter)."""
    at: int = 0
    """``credit``: when, epoch ms."""


def encode_tag_signal(signal: TagSignal) -> bytes:
    return codec("tag_signal").encode(
        {
            "kind": signal.kind,
            "project": signal.project,
            "invitee": signal.invitee,
            "at": signal.at,
        }
    )


def decode_tag_signal(data: bytes) -> TagSignal:
    """A signal; one written as JSON by an earlier version is read too."""
    old = legacy_json(data)
    if old is not None:
        return TagSignal(
            old["kind"], old.get("project", ""), old.get("invitee", ""), old.get("at", 0)
        )
    return TagSignal(**codec("tag_signal").decode(data))
