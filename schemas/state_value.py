"""The value format of every stream state table (Faust changelogs, ``siyu.stream_state``).

JSON object:
- ``v``: the state;
- ``o``: per source partition (``"<topic>/<partition>"``), the offset of the last source
  record applied (replay protection);
- ``m``: user ids whose state was merged into this one (identity merges, applied once);
- ``r``: set on a merged-away user: the user id it now redirects to.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["clear_origins", "decode_doc", "decode_value", "encode_doc", "encode_value"]


def encode_value(state: Any, origins: dict[str, int]) -> bytes:
    return orjson.dumps({"v": state, "o": origins})


def decode_value(raw: bytes | None) -> tuple[Any, dict[str, int]]:
    doc = decode_doc(raw)
    return doc.get("v"), doc["o"]


def decode_doc(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {"v": None, "o": {}}
    doc: dict[str, Any] = orjson.loads(raw)
    doc.setdefault("o", {})
    return doc


def encode_doc(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc)


def clear_origins(raw: bytes) -> bytes:
    """The same value with its source offsets forgotten (source offsets restart at 0 on a
    new broker, so old ones would make new records look like replays)."""
    doc = decode_doc(raw)
    doc["o"] = {}
    return encode_doc(doc)
