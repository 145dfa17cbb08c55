"""Decode a record once for all the agents of a worker that read its topic.

Counts, tags and funnels each consume every ``events.stitched`` record; each used to
decode the Avro record itself (about a tenth of a worker's CPU under load). A
:class:`SharedDecode` keeps a decoded record until every registered reader has taken
it, bounded in size (agents run a few records apart; an entry dropped early is simply
decoded again). Decoded records are immutable (frozen dataclasses), so sharing is safe;
a record's (partition, offset) names the same bytes for the life of the worker process.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["SharedDecode"]

T = TypeVar("T")

Read = Callable[[int, int, bytes], T]
"""``read(partition, offset, value)``: the decoded record."""


class SharedDecode(Generic[T]):
    def __init__(self, decode: Callable[[bytes], T], *, capacity: int = 1024) -> None:
        self._decode = decode
        self._capacity = capacity
        self._readers = 0
        self._kept: OrderedDict[tuple[int, int], tuple[T, int]] = OrderedDict()
        self.decoded = 0
        """How many times a record was actually decoded."""

    def __len__(self) -> int:
        return len(self._kept)

    def reader(self) -> Read[T]:
        """Register one more agent reading the topic; returns its read function."""
        self._readers += 1
        return self._read

    def _read(self, partition: int, offset: int, value: bytes) -> T:
        key = (partition, offset)
        kept = self._kept.get(key)
        if kept is None:
            decoded, taken = self._decode(value), 0
            self.decoded += 1
        else:
            decoded, taken = kept
        taken += 1
        if taken >= self._readers:
            self._kept.pop(key, None)
        else:
            self._kept[key] = (decoded, taken)
            while len(self._kept) > self._capacity:
                self._kept.popitem(last=False)
        return decoded
