"""Idempotent, recoverable stream state on top of Faust tables.

Every table value is JSON ``{"v": <state>, "o": {"<topic>/<partition>": <offset>}}``: the
state and, per source partition, the offset of the last source record applied to it.
A record at or below that offset is a replay (kill -9 between table write and offset
commit, or a re-sent upstream record carrying the same origin) and is skipped, so
replays never double-count.

The embedded broker keeps nothing across its own restart. Table changelogs are
therefore also sunk into ClickHouse (``siyu.stream_state``, see sinks/routes/state.py)
and, when a changelog comes back empty, :mod:`streams.seeding` republishes the last
known values into it before the workers start, with the offsets cleared (source
offsets restart at 0 on a new broker).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.types import TableT

from schemas.state_value import decode_value, encode_value

__all__ = ["StateTable"]


class StateTable:
    """A Faust table of JSON state values with per-origin replay protection.

    Must be used inside an agent's stream iteration (Faust writes the changelog to
    the partition of the event being processed).
    """

    def __init__(self, table: TableT[Any, Any]) -> None:
        self.table = table
        self.name = table.name

    def get(self, key: str) -> Any:
        state, _ = decode_value(self.table.get(key.encode()))
        return state

    def applied(self, key: str, origin: str, offset: int) -> bool:
        """True when the record (origin, offset) was already applied to ``key``."""
        _, origins = decode_value(self.table.get(key.encode()))
        return origins.get(origin, -1) >= offset

    def update(
        self, key: str, origin: str, offset: int, fn: Callable[[Any], Any]
    ) -> tuple[bool, Any]:
        """Apply ``fn(old_state) -> new_state`` once per (origin, offset).

        Returns ``(applied, state)``; ``applied`` is False for a replay.
        """
        raw_key = key.encode()
        state, origins = decode_value(self.table.get(raw_key))
        if origins.get(origin, -1) >= offset:
            return False, state
        new_state = fn(state)
        origins[origin] = offset
        self.table[raw_key] = encode_value(new_state, origins)
        return True, new_state

    def put(self, key: str, state: Any, origin: str, offset: int) -> None:
        raw_key = key.encode()
        _, origins = decode_value(self.table.get(raw_key))
        origins[origin] = offset
        self.table[raw_key] = encode_value(state, origins)

    def delete(self, key: str) -> None:
        self.table.pop(key.encode(), None)
