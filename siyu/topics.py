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

__all__ = ["TOPICS", "TopicSpec", "changelog_topics", "ensure_topics", "partition_overrides"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    """Name without the configurable prefix."""
    partitions: int | None = None
    """None: the configured default partition count."""
    doc: str = ""
    worker_reads: bool = False
    """A stream worker consumes it (the supervisor drains it before stopping workers)."""
    sink_reads: bool = False
    """The ClickHouse sink consumes it."""
    schema: str = ""
    """The Avro schema of its values (``schemas/<schema>.avsc``, through ``schemas.codec``)."""


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        "events.raw",
        schema="event_batch",
        doc="accepted, normalized events keyed by primary identity",
        worker_reads=True,
    ),
    TopicSpec(
        "events.deadletter",
        schema="dead_letter",
        doc="rejected events and unreadable bodies with the reason",
        sink_reads=True,
    ),
    TopicSpec(
        "events.stitched",
        schema="event_batch",
        doc="events with their user id, keyed by user id",
        worker_reads=True,
        sink_reads=True,
    ),
    TopicSpec(
        "identity.links",
        schema="event_batch",
        partitions=1,
        doc="events that introduce an identity or join users; one partition serializes links",
        worker_reads=True,
    ),
    TopicSpec(
        "identity.merges",
        schema="identity_merge",
        doc="user merges (loser -> survivor), keyed by the loser",
        worker_reads=True,
        sink_reads=True,
    ),
    TopicSpec(
        "state.transfer",
        schema="state_transfer",
        doc="per-user state of merged-away users, keyed by the survivor (streams/merging.py)",
        worker_reads=True,
    ),
    TopicSpec(
        "identity.map",
        schema="identity_assignment",
        doc="identity -> user id assignments, keyed by identity (sink to identity_map, lookup)",
        sink_reads=True,
    ),
    TopicSpec(
        "identity.conflicts",
        schema="identity_conflict",
        doc="links refused by the identity rules (sink to identity_conflicts)",
        sink_reads=True,
    ),
    TopicSpec(
        "tags.changes",
        schema="tag_change",
        doc="tag changes per user, keyed by user id",
        sink_reads=True,
    ),
    TopicSpec(
        "tags.signals",
        schema="tag_signal",
        doc="timer ticks and referral credits keyed by user id (internal to the tag agents)",
        worker_reads=True,
    ),
    TopicSpec(
        "segments.changes",
        schema="segment_change",
        doc="segment enter/exit records per user, keyed by user id (sink, lookup, webhooks)",
        sink_reads=True,
    ),
    TopicSpec(
        "properties.changes",
        schema="user_properties",
        doc="a user's property document after each change, keyed by user id (lookup)",
    ),
    TopicSpec(
        "segments.definitions",
        schema="segment_definition",
        partitions=1,
        doc="segments made at run time, keyed by project/name (workers, lookup, sink)",
        sink_reads=True,
    ),
    TopicSpec(
        "items.catalogue",
        schema="item_state",
        partitions=1,
        doc="item catalogue states (item_set / item_delete) keyed by project/type/id (workers)",
    ),
    TopicSpec(
        "webhooks.subscriptions",
        schema="webhook_subscription",
        partitions=1,
        doc="webhook subscriptions keyed by id (lookup, webhooks, sink)",
        sink_reads=True,
    ),
    TopicSpec(
        "webhooks.deliveries",
        schema="webhook_delivery",
        doc="webhook delivery attempts keyed by subscription id (sink)",
        sink_reads=True,
    ),
    TopicSpec(
        "funnels.progress",
        schema="funnel_progress",
        doc="funnel step completions per user",
        sink_reads=True,
    ),
    TopicSpec(
        "privacy.requests",
        schema="privacy_request",
        partitions=1,
        doc="forget requests from the lookup API / siyu forget (the sink carries them out)",
    ),
    TopicSpec(
        "privacy.forget",
        schema="privacy_forget",
        doc="per-user forget of stream state and identity suppression, keyed by user id",
        worker_reads=True,
    ),
    TopicSpec(
        "funnels.fission",
        schema="fission_signal",
        doc="fission signals keyed by the sharer they concern (internal to the funnel agents)",
        worker_reads=True,
    ),
)


def partition_overrides(kafka: KafkaSettings) -> dict[str, int]:
    """Full names of the topics whose partition count is not the configured default."""
    return {kafka.topic(t.name): t.partitions for t in TOPICS if t.partitions}


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


async def changelog_topics(bootstrap: str, app_id: str) -> list[str]:
    """Faust table changelog topics of the app that exist on the broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    return sorted(n for n in names if n.startswith(f"{app_id}-") and n.endswith("-changelog"))
