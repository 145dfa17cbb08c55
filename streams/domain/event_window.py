"""A bounded memory of recent event ids, to drop client retries before stateful stages.

SDKs resend a request when its answer is lost, with the same ``event_id`` values. The
resent events arrive in a later Kafka record of the same partition (same partition
key), so per source partition we remember which record first carried each id:

- the same id in a record at a *later* offset is a retry and is dropped;
- the same id at the *same* offset is a replay of that record (after a restart or a
  rebalance) and is kept, so at-least-once replays still deliver;
- the same id in a later record that carries the *same request* (the collector sent the
  accepted request again because the pipeline had not stored it, see the collector's
  outbox) is kept too: it is the one copy that can still reach the tables;
- the same id twice inside one record is a duplicate and is dropped.

The memory holds ``capacity`` ids per partition, oldest forgotten first: a retry is
caught while fewer than ``capacity`` newer events passed through its partition. The
window is process memory, so a retry that straddles a worker restart is not caught
(the event table still deduplicates by ``event_id``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

__all__ = ["RecentEventIds"]


class RecentEventIds:
    """Recent event ids of one source partition (see the module docstring)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._first: dict[Hashable, tuple[int, Hashable]] = {}
        self._order: deque[Hashable] = deque()
        self._offset = -1
        self._in_record: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._first)

    def admit(self, key: Hashable, offset: int, request: Hashable = None) -> bool:
        """True when the event is new, a replay of its own record, or a resend of its own
        request (``request`` identifies the accepted request a record carries); False for
        a client retry."""
        if offset != self._offset:
            self._offset = offset
            self._in_record = set()
        if key in self._in_record:
            return False
        self._in_record.add(key)
        first = self._first.get(key)
        if first is not None:
            first_offset, first_request = first
            return first_offset >= offset or (request is not None and request == first_request)
        self._first[key] = (offset, request)
        self._order.append(key)
        if len(self._order) > self.capacity:
            self._first.pop(self._order.popleft(), None)
        return True
