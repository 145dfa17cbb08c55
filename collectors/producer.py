"""The collector's way to Kafka: a Protocol, and the aiokafka adapter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka import client as aiokafka_client
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from collectors.exceptions import ProduceFailed
from collectors.retention import Retention

__all__ = ["EventProducer", "KafkaEventProducer", "Message"]

logger = logging.getLogger(__name__)

Message = tuple[str, bytes, bytes]
"""(topic, key, value)"""


class EventProducer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_many(self, messages: Sequence[Message]) -> None:
        """Return once every message is durably accepted; raise ProduceFailed otherwise."""
        ...


class _NoAutoCreateMetadata(MetadataRequest):  # type: ignore[misc]
    """A metadata request that never asks the broker to create the topics it names."""

    def __init__(self, topics: list[str] | None = None, allow_auto_topic_creation: Any = None):
        super().__init__(topics, False)


def _disable_topic_auto_creation() -> None:
    """Stop aiokafka's producer from creating topics by naming them (brokers that allow it).

    aiokafka asks for auto-creation in every metadata request. The embedded broker honours
    it, so right after a broker restart the collector's first send would create
    ``events.raw`` before ``siyu.topics.ensure_topics`` could, with the broker's default
    partition count, racing the real creation. Sends now fail until the topics exist (the
    events wait in the spool). aiokafka is pinned; tests/integration/test_collector_spool.py
    covers the restart.
    """
    aiokafka_client.MetadataRequest = _NoAutoCreateMetadata


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class KafkaEventProducer:
    """aiokafka with ``acks=all``. ``start`` raises ProduceFailed when no broker answers.

    Keeps the last ``retain_bytes`` of produced messages and sends them again when the
    broker's acknowledged offsets show it lost its log (see :mod:`collectors.retention`).
    """

    def __init__(
        self, *, bootstrap: str, timeout_s: float, linger_ms: int, retain_bytes: int = 0
    ) -> None:
        _disable_topic_auto_creation()
        self.bootstrap = bootstrap
        self.linger_ms = linger_ms
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self.retention = Retention(max_bytes=retain_bytes)
        self._lost: list[Message] = []

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        # Built here: aiokafka binds to the running loop. A message not delivered within
        # request_timeout_ms fails in aiokafka itself instead of arriving late, so what the
        # caller spools after a timeout is rarely sent twice.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=self.linger_ms,
            max_batch_size=1 << 20,
            max_request_size=8 << 20,
            request_timeout_ms=int(self.timeout_s * 1000),
            metadata_max_age_ms=5000,
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            await producer.stop()
            raise ProduceFailed(f"event broker unavailable: {exc}") from exc
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await asyncio.wait_for(producer.stop(), self.timeout_s * 2)
            except (KafkaError, TimeoutError) as exc:
                logger.warning("producer did not flush on stop: %s", exc)

    async def send_many(self, messages: Sequence[Message]) -> None:
        if self._lost:
            await self._resend_lost()
        await self._produce(messages)
        if self._lost:
            await self._resend_lost()

    async def _produce(self, messages: Sequence[Message]) -> None:
        if self._producer is None:
            raise ProduceFailed("producer not started")
        try:
            futures = []
            for message in messages:
                topic, key, value = message
                future = await self._producer.send(topic, value=value, key=key)
                if self.retention.max_bytes:
                    future.add_done_callback(partial(self._acked, message))
                futures.append(future)
            gathered = asyncio.gather(*futures)
            # After a timeout aiokafka fails these later by itself (request_timeout_ms),
            # when nobody waits any more: retrieve that error so it is not reported as lost.
            gathered.add_done_callback(_retrieve)
            await asyncio.wait_for(asyncio.shield(gathered), self.timeout_s)
        except (KafkaError, TimeoutError) as exc:
            logger.warning("produce failed: %r", exc)
            raise ProduceFailed(f"event broker unavailable: {exc!r}") from exc

    def _acked(self, message: Message, future: asyncio.Future[Any]) -> None:
        """Runs as each message is acknowledged, in the broker's offset order per partition."""
        if future.cancelled() or future.exception() is not None:
            return
        meta = future.result()
        lost = self.retention.note(message, (meta.topic, meta.partition, meta.offset))
        if lost:
            logger.warning(
                "the broker lost its log (offsets went back): sending %d recent messages again",
                len(lost),
            )
            self._lost = lost + self._lost

    async def _resend_lost(self) -> None:
        while self._lost:
            chunk, self._lost = self._lost[:500], self._lost[500:]
            try:
                await self._produce(chunk)
            except ProduceFailed:
                self._lost = chunk + self._lost
                raise
