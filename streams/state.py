"""Idempotent, recoverable, mergeable stream state on top of Faust tables.

Every value is a JSON document (format in :mod:`schemas.state_value`): the state, the
offset of the last source record applied per source partition, the users merged into it
and, for a merged-away user, where it redirects. A record at or below the stored offset
of its origin is a replay (kill -9 between table write and offset commit, or an upstream
record re-sent with the same origin) and is skipped, so replays never double-count.

The embedded broker keeps nothing across its own restart. Table changelogs are
therefore also sunk into ClickHouse (``siyu.stream_state``, see sinks/routes/state.py)
and, when a changelog comes back empty, :mod:`sinks.seeding` republishes the last known
values into it before the workers start, with the offsets cleared (source offsets
restart at 0 on a new broker).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.types import TableT

from schemas.state_value import decode_doc, encode_doc

__all__ = ["StateTable"]

# Merged-in user ids kept per user: merges are rare, this only bounds a pathological chain.
_MAX_MERGED_FROM = 1000


class StateTable:
    """A Faust table of JSON state documents with per-origin replay protection.

    Must be used inside an agent's stream iteration (Faust writes the changelog to
    the partition of the event being processed).
    """

    def __init__(self, table: TableT[Any, Any]) -> None:
        self.table = table
        self.name = table.name

    def _doc(self, key: str) -> dict[str, Any]:
        return decode_doc(self.table.get(key.encode()))

    def _put(self, key: str, doc: dict[str, Any]) -> None:
        self.table[key.encode()] = encode_doc(doc)

    def get(self, key: str) -> Any:
        return self._doc(key).get("v")

    def redirect(self, key: str) -> str | None:
        """The user this one was merged into, if any."""
        target: str | None = self._doc(key).get("r")
        return target

    def applied(self, key: str, origin: str, offset: int) -> bool:
        """True when the record (origin, offset) was already applied to ``key``."""
        origins: dict[str, int] = self._doc(key)["o"]
        return origins.get(origin, -1) >= offset

    def update(
        self, key: str, origin: str, offset: int, fn: Callable[[Any], Any]
    ) -> tuple[bool, Any]:
        """Apply ``fn(old_state) -> new_state`` once per (origin, offset).

        Returns ``(applied, state)``; ``applied`` is False for a replay.
        """
        doc = self._doc(key)
        if doc["o"].get(origin, -1) >= offset:
            return False, doc.get("v")
        doc["v"] = fn(doc.get("v"))
        doc["o"][origin] = offset
        self._put(key, doc)
        return True, doc["v"]

    def put(self, key: str, state: Any, origin: str, offset: int) -> None:
        doc = self._doc(key)
        doc["v"] = state
        doc["o"][origin] = offset
        self._put(key, doc)

    def mark_merged(self, loser: str, survivor: str) -> tuple[Any, list[str]] | None:
        """Mark ``loser`` as merged into ``survivor``; return its state and merged-in ids.

        The state is kept (not deleted): if the transfer to the survivor is lost in a
        crash, replaying the merge sends it again. None when the loser has no state.
        """
        doc = self._doc(loser)
        if doc.get("v") is None:
            return None
        if doc.get("r") != survivor:
            doc["r"] = survivor
            self._put(loser, doc)
        return doc["v"], list(doc.get("m", []))

    def absorb(
        self,
        survivor: str,
        loser: str,
        loser_state: Any,
        loser_merged: list[str],
        merge: Callable[[Any, Any], Any],
    ) -> bool:
        """Merge a loser's state into the survivor once per loser; True when applied."""
        doc = self._doc(survivor)
        merged = doc.get("m", [])
        if loser == survivor or loser in merged:
            return False
        doc["v"] = merge(doc.get("v"), loser_state)
        doc["m"] = [*merged, loser, *(m for m in loser_merged if m not in merged)][
            -_MAX_MERGED_FROM:
        ]
        self._put(survivor, doc)
        return True
