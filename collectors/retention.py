"""Recently produced messages, kept to re-send when the broker loses them.

The embedded broker (Tansu, in-memory storage) keeps nothing across a restart: records it
acknowledged but the pipeline had not yet written to ClickHouse would be gone. The
collector keeps the messages it produced last (bounded by bytes) and watches the offsets
the broker acknowledges. Offsets going back on a partition mean the broker lost its log:
the retained messages of the previous broker life are handed back to be sent again.
ClickHouse tables dedupe the copies that had already arrived (by ``event_id``).

The broker acknowledges the records of one partition in offset order, and the producer
sees each acknowledgement in that order (a done-callback per message), so within one broker
life the offsets of a partition only grow: one that does not is the sign of a new, empty log.
"""

from __future__ import annotations

from collections import deque

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

    def note(self, message: Message, ack: Ack) -> list[Message]:
        """Record one acknowledged message; return earlier ones the broker lost (to re-send)."""
        topic, partition, offset = ack
        key = (topic, partition)
        lost: list[Message] = []
        if offset <= self._high.get(key, -1):
            lost = list(self._messages)
            self._messages.clear()
            self._bytes = 0
            self._high.clear()
            self.losses += 1
        self._high[key] = offset
        self._messages.append(message)
        self._bytes += len(message[1]) + len(message[2])
        while self._bytes > self.max_bytes and self._messages:
            old = self._messages.popleft()
            self._bytes -= len(old[1]) + len(old[2])
        return lost
