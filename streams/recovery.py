"""Make Faust work correctly and promptly on the embedded broker.

1. Table recovery must see true changelog end offsets.

Faust takes ListOffsets(latest) − 1 as a changelog's highwater when it recovers a table
(``Recovery._build_highwaters`` → ``AIOKafkaConsumerThread._highwaters``). The embedded
broker answers ListOffsets(latest) with the base offset of the last batch + 1, so
recovery stops early (memory store: silent loss) or fails (rocksdb: ConsistencyError).
:func:`install` replaces that private method with one that fetches the last batch and
takes ``max(ListOffsets, last fetched offset + 1, Fetch high watermark)``. With a broker
that answers correctly the result is the same answer. Versions are pinned in
pyproject.toml; ``tests/integration/test_recovery.py`` fails without the patch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

from siyu.offsets import true_end_offsets_with

__all__ = ["install", "installed"]

logger = logging.getLogger(__name__)

_ORIGINAL = faust_aiokafka.AIOKafkaConsumerThread._highwaters
_CREATE_CONSUMER = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer
_fetch_max_wait_ms = 1500


async def _true_highwaters(self: Any, partitions: list[Any]) -> Mapping[Any, int]:
    main = self._ensure_consumer()
    if self.consumer.in_transaction:
        return {tp: main.last_stable_offset(tp) for tp in partitions}
    bootstrap = main._client._bootstrap_servers
    probe = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=20
    )
    await probe.start()
    try:
        ends = await true_end_offsets_with(
            probe, [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        )
    finally:
        await probe.stop()
    return {tp: ends[TopicPartition(tp.topic, tp.partition)] for tp in partitions}


def _create_worker_consumer(self: Any, transport: Any) -> AIOKafkaConsumer:
    consumer: AIOKafkaConsumer = _CREATE_CONSUMER(self, transport)
    consumer._fetch_max_wait_ms = _fetch_max_wait_ms  # read by AIOKafkaConsumer.start()
    return consumer


def install(*, fetch_max_wait_ms: int = 1500) -> None:
    """Patch Faust (idempotent)."""
    global _fetch_max_wait_ms
    _fetch_max_wait_ms = fetch_max_wait_ms
    faust_aiokafka.AIOKafkaConsumerThread._highwaters = _true_highwaters  # type: ignore[method-assign]
    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore Faust's own method (tests use it to show what the patch prevents)."""
    faust_aiokafka.AIOKafkaConsumerThread._highwaters = _ORIGINAL  # type: ignore[method-assign]
    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = _CREATE_CONSUMER  # type: ignore[method-assign]


def installed() -> bool:
    return faust_aiokafka.AIOKafkaConsumerThread._highwaters is _true_highwaters
