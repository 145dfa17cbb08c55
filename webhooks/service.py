"""The webhook delivery process (``siyu webhooks``).

A process of its own, supervised like the others: deliveries wait on receivers that may
be slow or down for hours, and that waiting must cost neither the stream workers (whose
commits gate every hop of the pipeline) nor the lookup API (whose event loop answers in
milliseconds). It reads ``segments.changes`` and ``tags.changes`` in its own consumer
group, turns each change into one job per matching subscription
(:mod:`webhooks.jobs`) and hands the jobs to per-subscription lanes
(:mod:`webhooks.dispatcher`). Every attempt is published on ``webhooks.deliveries``
(sunk into ``siyu.webhook_deliveries`` and, when given up, ``siyu.webhook_dead_letters``).
It reads ``privacy.forget`` too: a forgotten user's deliveries are dropped, queued or
stored, and their later changes are not delivered.

Durable and bounded: every job is written to the on-disk outbox (:mod:`webhooks.outbox`)
before the offsets of the records it came from are committed, and stays there until its
delivery is finished. After a crash the unfinished jobs are loaded back (with their
attempts) and delivered once each; a change read again is recognised and not queued
twice. A subscription holding ``max_pending`` unfinished jobs takes no more: the next
ones go to its dead letters with the reason ``backlog_full`` (and
``siyu_webhook_overflow_total``), never dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import start_http_server

from lookup.segment_index import SubscriptionIndex
from schemas.exceptions import SchemaError
from schemas.privacy_records import decode_forget
from schemas.segment_records import (
    WebhookDelivery,
    decode_segment_changes,
    decode_subscription,
    encode_delivery,
)
from schemas.tag_records import decode_tag_changes
from siyu.config_topics import ConfigTopic
from siyu.settings import Settings
from webhooks import metrics
from webhooks.dispatcher import Dispatcher, Lane
from webhooks.jobs import Job, attempt_record, segment_jobs, tag_jobs
from webhooks.outbox import Outbox

__all__ = ["WebhookService", "serve"]

logger = logging.getLogger(__name__)

# How often read offsets are committed (their jobs are in the outbox by then), and finished
# jobs older than keep_done_s purged from it.
_COMMIT_S = 1.0
_PURGE_S = 60.0


class WebhookService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subscriptions = SubscriptionIndex()
        self.config = ConfigTopic(settings.kafka, "webhooks.subscriptions", self._subscription)
        w = settings.webhooks
        self.outbox = Outbox(
            settings.data_dir / "webhooks" / "outbox.sqlite3",
            max_pending=w.max_pending,
            keep_done_s=w.keep_done_s,
        )
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap,
            linger_ms=settings.kafka.producer_linger_ms,
        )
        self.dispatcher = Dispatcher(
            settings.webhooks, self._log, self._done, self.outbox.attempted
        )
        k = settings.kafka
        self.segments_topic = k.topic("segments.changes")
        self.tags_topic = k.topic("tags.changes")
        self.forget_topic = k.topic("privacy.forget")
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
        left = len(await lane.close())
        self.outbox.drop_subscription(lane.sub.id)
        logger.info(
            "subscription %s removed: its lane is closed (%d undelivered)", lane.sub.id, left
        )

    def _restore(self) -> None:
        """Queue the unfinished jobs of the outbox again; forget those of subscriptions
        deleted meanwhile."""
        for sub_id in self.outbox.subscriptions() - set(self.dispatcher.lanes):
            n = self.outbox.drop_subscription(sub_id)
            logger.info("subscription %s was removed: %d undelivered jobs dropped", sub_id, n)
        for sub_id, lane in self.dispatcher.lanes.items():
            pending = self.outbox.pending(sub_id)
            for p in pending:
                lane.restore(p.job, p.attempts, p.first_try)
            if pending:
                logger.info("subscription %s: %d deliveries resumed", sub_id, len(pending))

    async def _log(self, delivery: WebhookDelivery) -> None:
        await self.producer.send(
            self.settings.kafka.topic("webhooks.deliveries"),
            key=delivery.subscription_id.encode(),
            value=encode_delivery(delivery),
        )

    def _done(self, job: Job) -> None:
        self.outbox.finish(job, time.time())

    async def _queue(self, jobs: list[Job]) -> None:
        """Store then queue ``jobs``; the overflow becomes dead letters."""
        queued, overflow = self.outbox.add(jobs, time.time())
        for job in queued:
            if not self.dispatcher.add(job):  # its subscription was removed meanwhile
                self._done(job)
        for job in overflow:
            metrics.OVERFLOW.labels(subscription=job.subscription_id).inc()
            await self._log(
                attempt_record(
                    job,
                    attempt=0,
                    status=0,
                    outcome="dead_letter",
                    latency_ms=0.0,
                    at=int(time.time() * 1000),
                    error=f"backlog_full: {self.outbox.max_pending} deliveries already pending",
                    body=job.body.decode(),
                )
            )
        if overflow:
            logger.warning(
                "%d webhook deliveries over the backlog bound: dead letters", len(overflow)
            )

    def forget(self, value: bytes) -> None:
        """A privacy request reached this user id: drop their deliveries everywhere."""
        try:
            f = decode_forget(value)
        except SchemaError as exc:
            logger.warning("undecodable forget record skipped: %s", exc)
            return
        stored = self.outbox.forget(f.project, f.user_id)
        queued = self.dispatcher.forget(f.user_id)
        logger.info(
            "forget %s: %d stored and %d queued deliveries dropped", f.request_id, stored, queued
        )

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
            self._restore()
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
            self.outbox.close()

    async def _consume(self, stop: asyncio.Event) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            self.segments_topic,
            self.tags_topic,
            self.forget_topic,
            bootstrap_servers=s.kafka.bootstrap,
            group_id=f"{s.worker.app_id}-webhooks",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.kafka.fetch_max_wait_ms,
            session_timeout_ms=int(s.worker.session_timeout_s * 1000),
        )
        await consumer.start()
        loop = asyncio.get_running_loop()
        last_commit = last_purge = loop.time()
        uncommitted = False
        try:
            while not stop.is_set():
                found = await consumer.getmany(timeout_ms=100, max_records=1000)
                changes = {tp: rs for tp, rs in found.items() if tp.topic != self.forget_topic}
                jobs = [
                    job
                    for tp, records in changes.items()
                    for r in records
                    if r.value is not None
                    for job in self.jobs_of(tp.topic, r.value, (tp.topic, tp.partition, r.offset))
                ]
                if jobs:
                    await self._queue(jobs)
                # After the changes read with them: those are dropped too.
                for tp, records in found.items():
                    if tp.topic == self.forget_topic:
                        for r in records:
                            if r.value is not None:
                                self.forget(r.value)
                uncommitted = uncommitted or bool(found)
                if uncommitted and loop.time() - last_commit >= _COMMIT_S:
                    # Everything read so far is in the outbox: its offsets can go.
                    await consumer.commit()
                    last_commit, uncommitted = loop.time(), False
                if loop.time() - last_purge >= _PURGE_S:
                    self.outbox.purge(time.time())
                    last_purge = loop.time()
            await consumer.commit()
        finally:
            await consumer.stop()


async def serve(settings: Settings) -> None:
    start_http_server(settings.webhooks.metrics_port, addr=settings.webhooks.metrics_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await WebhookService(settings).run(stop)
