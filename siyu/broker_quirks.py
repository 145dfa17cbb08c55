"""What siyu does differently for a broker with quirks: one adapter per ``SIYU_KAFKA_QUIRKS``.

The embedded broker (Tansu 0.6) answers ListOffsets(latest) wrongly and keeps its whole log
in memory, so it forgets acknowledged records when it restarts. Its adapter reads end
offsets by fetching the last batch (:func:`siyu.offsets.true_end_offsets_with`) and asks
for the workarounds of a forgetful log: the collector's outbox (records kept and sent
again until ClickHouse has them) and changelog seeding (stream state republished from
ClickHouse into empty changelogs). A real Kafka (``none``) gets none of them. The patches
of Faust and aiokafka internals chosen by the same setting are in :mod:`siyu.kafka_compat`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from siyu.offsets import true_end_offsets_with
from siyu.settings_sections import KafkaSettings

__all__ = ["BrokerQuirks", "for_kafka", "for_quirks"]

# The embedded broker holds a Fetch for about half its max wait even when data is there.
_FETCH_WAIT_MS = 20


@dataclass(frozen=True)
class BrokerQuirks:
    name: str
    forgets_log: bool
    """The broker may lose acknowledged records (restart): keep the outbox and seeding."""
    list_offsets_wrong: bool
    """ListOffsets(latest) may answer less than the end: fetch the last batch instead."""

    async def end_offsets_with(
        self, consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """End offsets (last offset + 1) through a started, group-less ``consumer``, which
        is left assigned to ``partitions``, all paused."""
        tps = list(partitions)
        if self.list_offsets_wrong:
            return await true_end_offsets_with(consumer, tps)
        if not tps:
            return {}
        consumer.assign(tps)
        consumer.pause(*tps)
        ends = await consumer.end_offsets(tps)
        return {tp: ends.get(tp) or 0 for tp in tps}

    async def end_offsets(
        self, bootstrap: str, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """End offsets of ``partitions`` from a short-lived, group-less consumer."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=_FETCH_WAIT_MS,
        )
        await consumer.start()
        try:
            return await self.end_offsets_with(consumer, partitions)
        finally:
            await consumer.stop()


_ADAPTERS = {
    "tansu": BrokerQuirks("tansu", forgets_log=True, list_offsets_wrong=True),
    "none": BrokerQuirks("none", forgets_log=False, list_offsets_wrong=False),
}


def for_quirks(name: str) -> BrokerQuirks:
    """The adapter of a broker with quirks ``name`` (``tansu`` or ``none``)."""
    return _ADAPTERS[name]


def for_kafka(kafka: KafkaSettings) -> BrokerQuirks:
    """The adapter of the broker ``kafka`` points at (``SIYU_KAFKA_QUIRKS``)."""
    return _ADAPTERS[kafka.broker_quirks]
