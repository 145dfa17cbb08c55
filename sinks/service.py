"""The ClickHouse sink: Kafka records → batched inserts → offsets committed after the insert.

One consumer group (``<app_id>-sink``) reads every routed topic. Rows are collected per
table (:class:`sinks.batching.Batch`) and flushed by size or age; only after every table
of a batch is written are the batch's offsets committed. A failed insert is retried
with backoff and nothing is committed meanwhile, so a crash or an outage replays
records, which the tables' ReplacingMergeTree keys deduplicate.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from sinks import metrics
from sinks.batching import Batch
from sinks.exceptions import SinkError, SinkRejected
from sinks.route import Record, Route, TableSpec
from sinks.routes import ROUTE_MODULES
from sinks.routes.events import DEAD_LETTERS
from sinks.writer import ClickHouseWriter
from siyu.settings import Settings

__all__ = ["SinkService", "load_routes", "sink_group"]

logger = logging.getLogger(__name__)

# Kafka records taken per fetch: small enough that converting them overlaps the running
# insert instead of piling one huge batch (a record holds one request's events).
_RECORDS_PER_FETCH = 500
# Fetch no more while this many rows wait for a failing ClickHouse: bounds memory.
_MAX_PENDING_FACTOR = 4


def sink_group(settings: Settings) -> str:
    return f"{settings.worker.app_id}-sink"


def load_routes(settings: Settings, modules: Iterable[str] = ROUTE_MODULES) -> list[Route]:
    routes: list[Route] = []
    for name in modules:
        routes.extend(importlib.import_module(name).routes(settings))
    return routes


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: SinkService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:
            await self.service.flush(final=True)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        logger.info("sink assigned %d partitions", len(assigned))


class SinkService:
    def __init__(self, settings: Settings, writer: ClickHouseWriter, routes: list[Route]) -> None:
        self.settings = settings
        self.writer = writer
        self.routes = routes
        self.batch = self._new_batch()
        self._inflight: asyncio.Task[None] | None = None
        # flush() runs from the main loop and from the rebalance listener: one at a time,
        # or a second caller could start a batch while the first one's write is running
        # and commit past rows still being (re)tried.
        self._flushing = asyncio.Lock()
        self._by_topic: dict[str, Route | None] = {}
        self._specs: dict[str, TableSpec] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.rows_written = 0

    def _new_batch(self) -> Batch:
        return Batch(max_rows=self.settings.sink.batch_rows, linger_s=self.settings.sink.linger_s)

    def pattern(self) -> str:
        parts = [re.escape(r.topic) for r in self.routes if r.topic]
        parts += [f"(?:{r.pattern.strip('^$')})" for r in self.routes if r.pattern]
        return "^(?:" + "|".join(parts) + ")$"

    def route_for(self, topic: str) -> Route | None:
        if topic not in self._by_topic:
            self._by_topic[topic] = next(
                (
                    r
                    for r in self.routes
                    if r.topic == topic or (r.pattern and re.match(r.pattern, topic))
                ),
                None,
            )
        return self._by_topic[topic]

    async def run(self, stop: asyncio.Event) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka.bootstrap,
            group_id=sink_group(self.settings),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=3000,
            fetch_max_wait_ms=self.settings.kafka.fetch_max_wait_ms,
            max_poll_records=self.settings.sink.batch_rows,
            session_timeout_ms=int(self.settings.worker.session_timeout_s * 1000),
            heartbeat_interval_ms=3000,
        )
        await self.consumer.start()
        self.consumer.subscribe(pattern=self.pattern(), listener=_Rebalance(self))
        limit = self.settings.sink.batch_rows * _MAX_PENDING_FACTOR
        try:
            while not stop.is_set():
                if self.batch.size < limit:
                    await self._fetch()
                writing = self._inflight is not None and not self._inflight.done()
                # While a batch is being written keep fetching into the next one, unless
                # the next one is already full.
                if self.batch.due(time.monotonic()) and (not writing or self.batch.size >= limit):
                    await self.flush()
            await self.flush(final=True)
        finally:
            await self.consumer.stop()

    async def _fetch(self) -> None:
        assert self.consumer is not None  # noqa: S101 - set by run()
        found = await self.consumer.getmany(timeout_ms=100, max_records=_RECORDS_PER_FETCH)
        now = time.monotonic()
        for tp, messages in found.items():
            metrics.CONSUMED.labels(topic=tp.topic).inc(len(messages))
            for m in messages:
                self._add(
                    Record(tp.topic, tp.partition, m.offset, m.key, m.value, m.timestamp), now
                )
                self.batch.consumed(tp.topic, tp.partition, m.offset, now)
        metrics.PENDING_ROWS.set(self.batch.size)

    def _add(self, record: Record, now: float) -> None:
        route = self.route_for(record.topic)
        if route is None:
            return
        try:
            rows = list(route.to_rows(record))
        except (ValueError, KeyError, TypeError, SinkError) as exc:
            # Skip policy: the record is kept in dead_letters with the reason, and counted.
            metrics.UNDECODABLE.labels(topic=record.topic).inc()
            logger.warning(
                "undecodable record %s/%d@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            rows = [(DEAD_LETTERS, _undecodable_row(record, exc))]
        for table, row in rows:
            self._specs[table.name] = table
            self.batch.add(table.name, row, now)

    async def flush(self, *, final: bool = False) -> None:
        """Hand the pending rows to the writer; ``final`` waits until they are committed.

        One batch is written while the next one fills (fetching and converting overlap
        the insert). Batches are written and committed strictly in order.
        """
        async with self._flushing:
            if self._inflight is not None:
                await self._inflight
                self._inflight = None
            if self.batch.offsets or self.batch.size:
                batch, self.batch = self.batch, self._new_batch()
                metrics.PENDING_ROWS.set(0)
                self._inflight = asyncio.create_task(self._write_and_commit(batch, final=final))
            if final and self._inflight is not None:
                await self._inflight
                self._inflight = None

    async def _write_and_commit(self, batch: Batch, *, final: bool) -> None:
        delay = 0.25
        size = batch.size
        while True:
            try:
                await asyncio.to_thread(self._write_all, batch)
                break
            except SinkError as exc:
                kind = "unavailable" if exc.retriable else "rejected"
                metrics.ERRORS.labels(kind=kind).inc()
                log = logger.warning if exc.retriable else logger.error
                log("insert into %s failed (%s), retry in %.1fs: %s", exc.table, kind, delay, exc)
                if isinstance(exc, SinkRejected) and final:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.sink.retry_max_s)
        await self._commit(batch.offsets)
        metrics.BATCH_ROWS.observe(size)

    def _write_all(self, batch: Batch) -> None:
        for table, rows in list(batch.rows.items()):
            started = time.perf_counter()
            columns = self._specs[table].columns
            for i in range(0, len(rows), self.batch.max_rows):
                self.writer.insert(table, columns, rows[i : i + self.batch.max_rows])
            metrics.INSERT_SECONDS.labels(table=table).observe(time.perf_counter() - started)
            metrics.ROWS.labels(table=table).inc(len(rows))
            self.rows_written += len(rows)
            # A table written is not written again if a later table of the batch fails.
            del batch.rows[table]

    async def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        if not offsets or self.consumer is None:
            return
        tps = {TopicPartition(t, p): o for (t, p), o in offsets.items()}
        try:
            await self.consumer.commit(tps)
        except (CommitFailedError, KafkaError) as exc:
            # The records are consumed again after the rebalance; inserts are idempotent.
            metrics.ERRORS.labels(kind="commit").inc()
            logger.warning("offset commit failed, records will be replayed: %s", exc)


def _undecodable_row(record: Record, exc: Exception) -> tuple[object, ...]:
    return (
        "",
        f"{record.topic}/{record.partition}@{record.offset}",
        record.timestamp_ms,
        f"sink:{record.topic}",
        f"undecodable record: {exc}",
        -1,
        "",
        (record.value or b"").decode("utf-8", "replace"),
        "",
    )
