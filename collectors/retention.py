"""Recently produced messages, kept to re-send when the broker loses them.

The embedded broker (Tansu, in-memory storage) keeps nothing across a restart: records it
acknowledged but the pipeline had not yet written to ClickHouse would be gone. The
collector keeps the messages it produced last (bounded by bytes) and watches the offsets
the broker acknowledges. Offsets going back on a partition mean the broker lost its log:
the retained messages of the previous broker life are handed back to be sent again.
ClickHouse tables dedupe the copies that had already arrived (by ``event_id``).

Acknowledgements of concurrent requests can be handled out of order, so an offset only
counts as "going back" when it is lower than the partition's highest acknowledged offset
minus everything that was in flight at the time (``slack``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

__all__ = ["Ack", "Retention"]

Message = tuple[str, bytes, bytes]
Ack = tuple[str, int, int]
"""(topic, partition, offset) the broker acknowledged for one message."""


class Retention:
    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._messages: deque[Message] = deque()
        self._bytes = 0
        self._high: dict[tuple[str, int], int] = {}
        self.losses = 0
        """Broker restarts with data loss detected so far."""

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def note(
        self, messages: Sequence[Message], acks: Sequence[Ack], *, slack: int
    ) -> list[Message]:
        """Record acknowledged messages; return earlier ones the broker lost (to re-send)."""
        lost: list[Message] = []
        window = slack + len(messages)
        for topic, partition, offset in acks:
            high = self._high.get((topic, partition))
            if high is not None and offset < high - window:
                lost = list(self._messages)
                self._messages.clear()
                self._bytes = 0
                self._high.clear()
                self.losses += 1
                break
        for (topic, partition, offset), message in zip(acks, messages, strict=True):
            key = (topic, partition)
            if offset > self._high.get(key, -1):
                self._high[key] = offset
            self._messages.append(message)
            self._bytes += len(message[1]) + len(message[2])
        while self._bytes > self.max_bytes and self._messages:
            old = self._messages.popleft()
            self._bytes -= len(old[1]) + len(old[2])
        return lost
