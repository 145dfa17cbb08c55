"""Small real implementations of our Protocols for tests (no mocks)."""

from __future__ import annotations

from collections.abc import Sequence

from collectors.exceptions import ProduceFailed
from collectors.producer import Message
from schemas.records import DeadLetter, EventBatch, decode_batch, decode_dead_letter

__all__ = ["InMemoryProducer"]


class InMemoryProducer:
    """An :class:`collectors.producer.EventProducer` that keeps what it was sent.

    ``fail`` makes every send raise :class:`ProduceFailed` (a broker that is away).
    """

    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[Message] = []
        self.fail = fail
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send_many(self, messages: Sequence[Message]) -> None:
        if self.fail:
            raise ProduceFailed("in-memory broker is down")
        self.sent.extend(messages)

    def batches(self, topic_suffix: str = "events.raw") -> list[EventBatch]:
        return [decode_batch(v) for t, _, v in self.sent if t.endswith(topic_suffix)]

    def events(self) -> list:  # type: ignore[type-arg]
        return [e for b in self.batches() for e in b.events]

    def dead_letters(self) -> list[DeadLetter]:
        return [decode_dead_letter(v) for t, _, v in self.sent if t.endswith("events.deadletter")]

    def clear(self) -> None:
        self.sent.clear()
