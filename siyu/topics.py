"""Every Kafka topic siyu uses, created once with its final partition count.

The embedded broker cannot add partitions later (no CreatePartitions), so topics are
created up front by ``siyu run`` / ``siyu topics``, never implicitly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from siyu.settings import KafkaSettings

__all__ = ["TOPICS", "TopicSpec", "ensure_topics"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    """Name without the configurable prefix."""
    partitions: int | None = None
    """None: the configured default partition count."""
    doc: str = ""


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("events.raw", doc="accepted, normalized events keyed by primary identity"),
    TopicSpec("events.deadletter", doc="rejected events and unreadable bodies with the reason"),
    TopicSpec("events.stitched", doc="events with their user id, keyed by user id"),
    TopicSpec(
        "identity.links",
        partitions=1,
        doc="events that introduce an identity or join users; one partition serializes links",
    ),
    TopicSpec("identity.merges", doc="user merges (loser -> survivor), keyed by survivor"),
    TopicSpec("identity.map", doc="identity -> user id assignments (sink to identity_map)"),
    TopicSpec("tags.changes", doc="tag changes per user"),
    TopicSpec("funnels.progress", doc="funnel step completions per user"),
)


async def ensure_topics(kafka: KafkaSettings, extra: tuple[TopicSpec, ...] = ()) -> list[str]:
    """Create every missing topic; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name=kafka.topic(spec.name),
                num_partitions=spec.partitions or kafka.partitions,
                replication_factor=kafka.replication_factor,
            )
            for spec in (*TOPICS, *extra)
            if kafka.topic(spec.name) not in existing
        ]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                logger.info("topics created concurrently by another process")
        return [t.name for t in new]
    finally:
        await admin.close()
