"""The value format of every stream state table (Faust changelogs, ``siyu.stream_state``).

JSON ``{"v": <state>, "o": {"<topic>/<partition>": <offset>}}``: the state and, per source
partition, the offset of the last source record applied to it (replay protection).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["clear_origins", "decode_value", "encode_value"]


def encode_value(state: Any, origins: dict[str, int]) -> bytes:
    return orjson.dumps({"v": state, "o": origins})


def decode_value(raw: bytes | None) -> tuple[Any, dict[str, int]]:
    if raw is None:
        return None, {}
    doc = orjson.loads(raw)
    return doc["v"], doc.get("o") or {}


def clear_origins(raw: bytes) -> bytes:
    """The same value with its source offsets forgotten (source offsets restart at 0 on a
    new broker, so old ones would make new records look like replays)."""
    state, _ = decode_value(raw)
    return encode_value(state, {})
