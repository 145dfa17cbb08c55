"""Sink rows/s: Kafka → rows → batched chDB inserts with commits, vs raw clickhouse-connect
inserts of the same rows (baseline, same run, same machine)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.core import BenchResult
from schemas.records import EventBatch, TrackEvent, encode_batch
from sinks.route import Record
from sinks.routes.events import EVENTS, event_rows
from sinks.service import SinkService, load_routes
from sinks.writer import ClickHouseWriter
from siyu.broker import start_broker
from siyu.ports import free_port
from siyu.settings import KafkaSettings, Settings, SinkSettings
from siyu.topics import ensure_topics

__all__ = ["run"]

EVENTS_N = 200_000
PER_RECORD = 50


def _records() -> list[bytes]:
    out = []
    for r in range(EVENTS_N // PER_RECORD):
        events = tuple(
            TrackEvent(
                event_id=f"b{r}-{i}",
                type="track",
                event="view_product",
                time=1_764_000_000_000 + i,
                platform="miniprogram",
                identities={"anonymous_id": f"a{r % 997}"},
                properties={"product_id": f"p{i}", "price": 9.9},
                context={"scene": 1007},
                user_id=f"u{r % 997}",
            )
            for i in range(PER_RECORD)
        )
        out.append(
            encode_batch(
                EventBatch(project="default", key=f"u{r % 997}", received_at=1, events=events)
            )
        )
    return out


async def _produce(bootstrap: str, topic: str, records: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, max_batch_size=1 << 20)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, r, key=str(i).encode()) for i, r in enumerate(records)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _sink(settings: Settings, writer: ClickHouseWriter) -> float:
    """Rows/s from the first batch written to the last (the group join before it, which
    the embedded broker makes wait half the session timeout, is not the sink's speed)."""
    service = SinkService(settings, writer, load_routes(settings))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    while service.rows_written == 0:  # noqa: ASYNC110 - polling a counter is the point
        await asyncio.sleep(0.01)
    started, first = time.perf_counter(), service.rows_written
    while service.rows_written < EVENTS_N:  # noqa: ASYNC110 - polling a counter is the point
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return (EVENTS_N - first) / elapsed


def run() -> BenchResult:
    result = BenchResult("sink", "raw clickhouse-connect insert of the same rows")
    with tempfile.TemporaryDirectory() as tmp:
        bootstrap = f"127.0.0.1:{free_port()}"
        broker = start_broker(bootstrap, Path(tmp) / "broker.log")
        try:
            settings = Settings(
                data_dir=Path(tmp),
                kafka=KafkaSettings(bootstrap=bootstrap),
                sink=SinkSettings(batch_rows=20_000, linger_s=0.5),
            )
            asyncio.run(ensure_topics(settings.kafka))
            records = _records()
            asyncio.run(_produce(bootstrap, settings.kafka.topic("events.stitched"), records))
            writer = ClickHouseWriter(url=None, chdb_path=Path(tmp) / "chdb")
            writer.migrate()
            sink_rate = asyncio.run(_sink(settings, writer))
            rows = [
                row
                for i, r in enumerate(records)
                for _, row in event_rows(Record("t", 0, i, None, r, 0))
            ]
            writer.command("TRUNCATE TABLE siyu.events")
            started = time.perf_counter()
            for i in range(0, len(rows), 20_000):
                writer.insert(EVENTS.name, EVENTS.columns, rows[i : i + 20_000])
            raw_s = time.perf_counter() - started
            writer.close()
        finally:
            broker.terminate()
            broker.wait(10)
    result.add(
        "rows/s through the sink",
        sink_rate,
        "rows/s",
        baseline=EVENTS_N / raw_s,
        goal="≥ 0.5× raw insert",
    )
    return result
