"""Follow a small configuration topic (segment definitions, webhook subscriptions).

Such topics hold one record per key, the newest being current. Every reader reads them
whole from the beginning and keeps following; after a restart of the embedded broker the
sink republishes them from ClickHouse before any reader starts (sinks/seeding.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from siyu.broker_quirks import for_kafka
from siyu.settings import KafkaSettings

__all__ = ["ConfigTopic"]

logger = logging.getLogger(__name__)


class ConfigTopic:
    """Reads ``topic`` from its start into ``apply(value)`` until stopped.

    ``caught_up`` is set once everything present at start has been applied.
    """

    def __init__(self, kafka: KafkaSettings, name: str, apply: Callable[[bytes], None]) -> None:
        self.kafka = kafka
        self.topic = kafka.topic(name)
        self.apply = apply
        self.caught_up = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._follow(stop)
            except KafkaError as exc:
                logger.warning("lost %s (%s), reading it again", self.topic, exc)
                await asyncio.sleep(1)

    async def _follow(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=self.kafka.fetch_max_wait_ms,
            metadata_max_age_ms=3000,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            await consumer.topics()
            tps = [
                TopicPartition(self.topic, p)
                for p in sorted(consumer.partitions_for_topic(self.topic) or ())
            ]
            ends = await for_kafka(self.kafka).end_offsets_with(consumer, tps)  # assigns, pauses
            consumer.resume(*tps)
            await consumer.seek_to_beginning(*tps)
            while not stop.is_set():
                found = await consumer.getmany(timeout_ms=200, max_records=500)
                for records in found.values():
                    for record in records:
                        if record.value is not None:
                            self.apply(record.value)
                if not self.caught_up.is_set():
                    positions = [await consumer.position(tp) for tp in tps]
                    if all(pos >= ends.get(tp, 0) for tp, pos in zip(tps, positions, strict=True)):
                        self.caught_up.set()
        finally:
            await consumer.stop()
