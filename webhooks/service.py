"""The webhook delivery process (``siyu webhooks``).

A process of its own, supervised like the others: deliveries wait on receivers that may
be slow or down for hours, and that waiting must cost neither the stream workers (whose
commits gate every hop of the pipeline) nor the lookup API (whose event loop answers in
milliseconds). It reads ``segments.changes`` and ``tags.changes`` in its own consumer
group, turns each change into one job per matching subscription
(:mod:`webhooks.jobs`) and hands the jobs to per-subscription lanes
(:mod:`webhooks.dispatcher`). Every attempt is published on ``webhooks.deliveries``
(sunk into ``siyu.webhook_deliveries`` and, when given up, ``siyu.webhook_dead_letters``).

At-least-once: the offset committed for a partition is the lowest one whose jobs are not
all finished, so after a crash every unfinished delivery is made again (with the same
``event_id``), and nothing finished holds anything back but its own partition's commit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import start_http_server

from lookup.segment_index import SubscriptionIndex
from schemas.exceptions import SchemaError
from schemas.segment_records import (
    WebhookDelivery,
    decode_segment_changes,
    decode_subscription,
    encode_delivery,
)
from schemas.tag_records import decode_tag_changes
from siyu.config_topics import ConfigTopic
from siyu.settings import Settings
from webhooks.dispatcher import Dispatcher, Lane
from webhooks.jobs import Job, segment_jobs, tag_jobs

__all__ = ["Watermarks", "serve"]

logger = logging.getLogger(__name__)

# How often finished offsets are committed.
_COMMIT_S = 1.0


class Watermarks:
    """Per partition: offsets with unfinished jobs, and the next offset to read."""

    def __init__(self) -> None:
        self.pending: dict[TopicPartition, Counter[int]] = {}
        self.next: dict[TopicPartition, int] = {}

    def read(self, tp: TopicPartition, offset: int, jobs: int) -> None:
        self.next[tp] = max(self.next.get(tp, 0), offset + 1)
        if jobs:
            self.pending.setdefault(tp, Counter())[offset] += jobs

    def finished(self, tp: TopicPartition, offset: int) -> None:
        held = self.pending.get(tp)
        if held is None or offset not in held:
            return
        held[offset] -= 1
        if held[offset] <= 0:
            del held[offset]

    def committable(self) -> dict[TopicPartition, int]:
        out = {}
        for tp, nxt in self.next.items():
            held = self.pending.get(tp)
            out[tp] = min(held) if held else nxt
        return out


class WebhookService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subscriptions = SubscriptionIndex()
        self.config = ConfigTopic(settings.kafka, "webhooks.subscriptions", self._subscription)
        self.marks = Watermarks()
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap,
            linger_ms=settings.kafka.producer_linger_ms,
        )
        self.dispatcher = Dispatcher(settings.webhooks, self._log, self._done)
        k = settings.kafka
        self.segments_topic = k.topic("segments.changes")
        self.tags_topic = k.topic("tags.changes")
        self._closing: set[asyncio.Task[None]] = set()

    def _subscription(self, value: bytes) -> None:
        try:
            self.subscriptions.apply(decode_subscription(value))
        except SchemaError as exc:
            logger.warning("subscription record skipped: %s", exc)
            return
        for lane in self.dispatcher.sync(self.subscriptions.active()):
            task = asyncio.create_task(self._retire(lane))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _retire(self, lane: Lane) -> None:
        for job in await lane.close():
            self._done(job)
        logger.info("subscription %s removed: its lane is closed", lane.sub.id)

    async def _log(self, delivery: WebhookDelivery) -> None:
        await self.producer.send(
            self.settings.kafka.topic("webhooks.deliveries"),
            key=delivery.subscription_id.encode(),
            value=encode_delivery(delivery),
        )

    def _done(self, job: Job) -> None:
        topic, partition, offset = job.source
        self.marks.finished(TopicPartition(topic, partition), offset)

    def jobs_of(self, topic: str, value: bytes, source: tuple[str, int, int]) -> list[Job]:
        subs = self.subscriptions.active()
        if not subs:
            return []
        try:
            if topic == self.segments_topic:
                return segment_jobs(subs, decode_segment_changes(value), source)
            return tag_jobs(subs, decode_tag_changes(value), source)
        except SchemaError as exc:
            # Skip policy: an undecodable change cannot be delivered; counted in the log.
            logger.warning("undecodable record %s: %s", source, exc)
            return []

    async def run(self, stop: asyncio.Event) -> None:
        await self.producer.start()
        config_task = asyncio.create_task(self.config.run(stop))
        try:
            await self.config.caught_up.wait()
            logger.info("webhooks: %d subscriptions", len(self.subscriptions.active()))
            while not stop.is_set():
                try:
                    await self._consume(stop)
                except KafkaError as exc:
                    logger.warning("webhooks lost Kafka (%s), reconnecting", exc)
                    await asyncio.sleep(1)
        finally:
            config_task.cancel()
            await asyncio.gather(config_task, return_exceptions=True)
            await self.dispatcher.close()
            await self.producer.stop()

    async def _consume(self, stop: asyncio.Event) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            self.segments_topic,
            self.tags_topic,
            bootstrap_servers=s.kafka.bootstrap,
            group_id=f"{s.worker.app_id}-webhooks",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.kafka.fetch_max_wait_ms,
            session_timeout_ms=int(s.worker.session_timeout_s * 1000),
        )
        await consumer.start()
        loop = asyncio.get_running_loop()
        last_commit = loop.time()
        try:
            while not stop.is_set():
                found = await consumer.getmany(timeout_ms=100, max_records=1000)
                for tp, records in found.items():
                    for r in records:
                        jobs = (
                            self.jobs_of(tp.topic, r.value, (tp.topic, tp.partition, r.offset))
                            if r.value is not None
                            else []
                        )
                        jobs = [j for j in jobs if self.dispatcher.add(j)]
                        self.marks.read(tp, r.offset, len(jobs))
                if loop.time() - last_commit >= _COMMIT_S:
                    await self._commit(consumer)
                    last_commit = loop.time()
            await self._commit(consumer)
        finally:
            await consumer.stop()

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        assigned = consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(off, "")
            for tp, off in self.marks.committable().items()
            if tp in assigned
        }
        if offsets:
            await consumer.commit(offsets)


async def serve(settings: Settings) -> None:
    start_http_server(settings.webhooks.metrics_port, addr=settings.webhooks.metrics_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await WebhookService(settings).run(stop)
