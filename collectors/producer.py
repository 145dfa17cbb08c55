"""The collector's way to Kafka: a Protocol, and the aiokafka adapter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from collectors.exceptions import ProduceFailed

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


class KafkaEventProducer:
    def __init__(self, *, bootstrap: str, timeout_s: float) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # Built here: aiokafka binds to the running loop.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=2,
            max_batch_size=1 << 20,
            max_request_size=8 << 20,
            request_timeout_ms=int(self.timeout_s * 1000),
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def send_many(self, messages: Sequence[Message]) -> None:
        if self._producer is None:
            raise ProduceFailed("producer not started")
        try:
            futures = [
                await self._producer.send(topic, value=value, key=key)
                for topic, key, value in messages
            ]
            await asyncio.wait_for(asyncio.gather(*futures), self.timeout_s)
        except (KafkaError, TimeoutError) as exc:
            logger.warning("produce failed: %s", exc)
            raise ProduceFailed(f"event broker unavailable: {exc}") from exc
