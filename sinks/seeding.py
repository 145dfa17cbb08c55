"""Republish stream state from ClickHouse into empty changelogs.

The embedded broker keeps nothing across its own restart, while the Faust tables'
changelogs are their only durable form. Each changelog is also sunk into
``siyu.stream_state`` (see :mod:`sinks.routes.state`). Before any worker starts, for
every table known there whose changelog topic is empty on the broker, the last value of
every key is produced back to the partition it came from, with its replay-protection
offsets cleared (source offsets restart at 0 on a new broker). Faust then recovers the
table from its changelog as usual. Tables whose changelog still holds data are left
alone: Faust's own recovery is exact there. Configuration topics (segment definitions,
webhook subscriptions, the item catalogue) are republished the same way from their own
tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from sinks.writer import ClickHouseWriter
from siyu.offsets import true_end_offsets

__all__ = ["CONFIG_TOPICS", "seed_empty_changelogs", "seed_empty_config_topics"]

logger = logging.getLogger(__name__)


async def _ensure_topic(bootstrap: str, topic: str, partitions: int, replication: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            try:
                await admin.create_topics(
                    [NewTopic(topic, num_partitions=partitions, replication_factor=replication)]
                )
            except TopicAlreadyExistsError:
                logger.info("changelog %s created concurrently", topic)
    finally:
        await admin.close()


async def seed_empty_changelogs(
    writer: ClickHouseWriter,
    *,
    bootstrap: str,
    app_id: str,
    partitions: int,
    replication: int,
    transform: Callable[[bytes], bytes],
) -> dict[str, int]:
    """Seed every empty changelog; return ``{table: keys republished}``."""
    tables = [r[0] for r in writer.rows("SELECT DISTINCT state_table FROM siyu.stream_state")]
    seeded: dict[str, int] = {}
    for table in tables:
        topic = f"{app_id}-{table}-changelog"
        await _ensure_topic(bootstrap, topic, partitions, replication)
        ends = await true_end_offsets(
            bootstrap, [TopicPartition(topic, p) for p in range(partitions)]
        )
        if any(ends.values()):
            continue
        rows = writer.rows(
            "SELECT key, partition, value FROM siyu.stream_state "
            "WHERE state_table = {t:String} AND deleted = 0",
            parameters={"t": table},
        )
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            for key, partition, value in rows:
                await producer.send(
                    topic,
                    key=_bytes(key),
                    value=transform(_bytes(value)),
                    partition=int(partition) % partitions,
                )
            await producer.flush()
        finally:
            await producer.stop()
        seeded[table] = len(rows)
        logger.info("seeded %d keys into empty changelog %s", len(rows), topic)
    return seeded


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


# Configuration topics kept in ClickHouse: topic (without prefix) → the query giving the
# Avro record (hex) of every current key, newest version per key.
CONFIG_TOPICS: dict[str, str] = {
    "segments.definitions": (
        "SELECT argMax(record, version) FROM siyu.segment_definitions GROUP BY project, name"
    ),
    "webhooks.subscriptions": (
        "SELECT argMax(record, version) FROM siyu.webhook_subscriptions GROUP BY project, id"
    ),
    "items.catalogue": (
        "SELECT argMax(record, version) FROM siyu.items WHERE record != '' "
        "GROUP BY project, item_type, item_id"
    ),
}


async def seed_empty_config_topics(
    writer: ClickHouseWriter, *, bootstrap: str, topic: Callable[[str], str]
) -> dict[str, int]:
    """Republish segment definitions, webhook subscriptions and the item catalogue into
    their topics when the broker lost them (the topics are empty); return
    ``{topic: records republished}``."""
    seeded: dict[str, int] = {}
    for name, sql in CONFIG_TOPICS.items():
        full = topic(name)
        ends = await true_end_offsets(bootstrap, [TopicPartition(full, 0)])
        if any(ends.values()):
            continue
        records = [bytes.fromhex(str(r[0])) for r in writer.rows(sql)]
        if not records:
            continue
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for value in records:
                await producer.send(full, value=value, partition=0)
            await producer.flush()
        finally:
            await producer.stop()
        seeded[name] = len(records)
        logger.info("republished %d records into empty topic %s", len(records), full)
    return seeded
