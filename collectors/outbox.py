"""Accepted events kept until ClickHouse holds them, and sent again when it does not.

The embedded broker (Tansu, in-memory storage) keeps nothing across a restart, and a topic
re-created after one can even hand the same offset to two racing producers, so consumers
skip a batch. Neither the broker's acknowledgement nor any consumer offset on it is proof
that an event will be stored. The outbox therefore keeps every ``events.raw`` message the
broker acknowledged until each of its events is found in ``siyu.events`` (confirmed by
content, not by offsets), and hands messages back to be sent again:

- at once when the broker's acknowledged offsets go back on a partition (a new, empty
  log: the broker acknowledges one partition's records in offset order, so within one
  broker life they only grow);
- after ``resend_after_ms`` without confirmation, once a message sent more than
  ``overtaken_ms`` after it is confirmed (whatever swallowed it: skipped offsets, a crash
  between two stages). A pipeline that is merely behind confirms nothing newer, so it is
  not flooded with copies;
- after ``resend_after_ms + overtaken_ms``, once a message sent at the same time or later
  is confirmed: the last messages before traffic stops (or the copies sent together after
  a lost log) have nothing sent well after them to overtake them;
- messages still unconfirmed after ``give_up_wait_ms`` are sent again anyway (nothing
  newer may ever be confirmed).

Copies dedupe by ``event_id`` in ClickHouse (ReplacingMergeTree) and in stream state.
Bounded by bytes: past ``max_bytes`` the oldest messages are dropped unconfirmed and
counted (``dropped``), so the bound must exceed what the pipeline holds in flight.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["Ack", "Outbox", "Pending"]

Message = tuple[str, bytes, bytes]
Ack = tuple[str, int, int]
"""(topic, partition, offset) the broker acknowledged for one message."""
EventIds = tuple[str, tuple[str, ...]]
"""(project, event ids) of one message."""


@dataclass(slots=True)
class Pending:
    seq: int
    message: Message
    sent_ms: int
    accepted_ms: int
    """When the collector first wrote it to the journal (kept across sends and restarts)."""
    _ids: EventIds | None = field(default=None, repr=False)

    def ids(self, decode: Callable[[bytes], EventIds]) -> EventIds:
        if self._ids is None:
            self._ids = decode(self.message[2])
        return self._ids


class Outbox:
    def __init__(
        self,
        *,
        max_bytes: int,
        resend_after_ms: int,
        overtaken_ms: int = 10_000,
        give_up_wait_ms: int | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.resend_after_ms = resend_after_ms
        self.overtaken_ms = overtaken_ms
        self.give_up_wait_ms = give_up_wait_ms or resend_after_ms * 10
        self._confirmed_sent_ms = 0
        """Latest send time among confirmed messages: how far the pipeline has come."""
        self._pending: OrderedDict[int, Pending] = OrderedDict()
        self._seq = 0
        self._bytes = 0
        self._high: dict[tuple[str, int], int] = {}
        self.losses = 0
        """Broker restarts with a lost log detected so far."""
        self.dropped = 0
        """Messages dropped unconfirmed because the outbox was full."""
        self.resent = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._pending)

    def acked(
        self,
        ack: Ack,
        now_ms: int,
        message: Message | None = None,
        accepted_ms: int | None = None,
    ) -> list[Message]:
        """One acknowledgement (``message`` for a first send, None for a copy sent again;
        ``accepted_ms`` when it was journaled, if not just now).

        Returns the messages to send again at once: all pending ones when the offsets show
        the broker lost its log.
        """
        topic, partition, offset = ack
        key = (topic, partition)
        again: list[Message] = []
        if offset <= self._high.get(key, -1):
            self._high.clear()
            self.losses += 1
            again = self._take(self._pending.values(), now_ms)
        self._high[key] = offset
        if message is not None:
            self._seq += 1
            first = accepted_ms if accepted_ms is not None else now_ms
            self._pending[self._seq] = Pending(self._seq, message, now_ms, first)
            self._bytes += len(message[1]) + len(message[2])
            while self._bytes > self.max_bytes and self._pending:
                _, old = self._pending.popitem(last=False)
                self._bytes -= len(old.message[1]) + len(old.message[2])
                self.dropped += 1
        return again

    def oldest(self, limit: int) -> list[Pending]:
        """Up to ``limit`` pending messages, oldest first (to look up in ClickHouse)."""
        out: list[Pending] = []
        for p in self._pending.values():
            if len(out) >= limit:
                break
            out.append(p)
        return out

    def oldest_accepted_ms(self) -> int | None:
        """Acceptance time of the oldest unconfirmed message (None: nothing pending)."""
        return min((p.accepted_ms for p in self._pending.values()), default=None)

    def confirm(self, seqs: Iterable[int]) -> int:
        """These messages' events are all stored: forget them. Returns how many were pending."""
        n = 0
        for seq in seqs:
            p = self._pending.pop(seq, None)
            if p is not None:
                self._bytes -= len(p.message[1]) + len(p.message[2])
                self._confirmed_sent_ms = max(self._confirmed_sent_ms, p.sent_ms)
                n += 1
        return n

    def due(self, now_ms: int, limit: int = 2000) -> list[Message]:
        """Pending messages to send again now (their clock restarts): sent more than
        ``resend_after_ms`` ago and overtaken by a confirmed one, caught up by one a while
        longer, or waiting too long."""
        late: list[Pending] = []
        for p in self._pending.values():
            age = now_ms - p.sent_ms
            if age < self.resend_after_ms or len(late) >= limit:
                break  # sent in order: the rest are younger (copies sent again move last)
            overtaken = p.sent_ms + self.overtaken_ms <= self._confirmed_sent_ms
            caught_up = (
                p.sent_ms <= self._confirmed_sent_ms
                and age >= self.resend_after_ms + self.overtaken_ms
            )
            if overtaken or caught_up or age >= self.give_up_wait_ms:
                late.append(p)
        return self._take(late, now_ms)

    def _take(self, entries: Iterable[Pending], now_ms: int) -> list[Message]:
        taken = list(entries)
        for p in taken:
            p.sent_ms = now_ms
            self._pending.move_to_end(p.seq)
        self.resent += len(taken)
        return [p.message for p in taken]
