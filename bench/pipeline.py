"""End to end on the embedded stack: events/s offered over HTTP at a steady rate, and the
latency from the collector receiving an event to its row in ClickHouse (p50/p99), against
a raw Kafka produce → consume round trip on the same broker as the baseline."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.core import BenchResult, percentile
from siyu.embedded import Stack
from siyu.ports import free_port
from siyu.settings import (
    CollectorSettings,
    KafkaSettings,
    LookupSettings,
    Settings,
    SinkSettings,
    SqlSettings,
    WorkerSettings,
)

__all__ = ["run"]

RATE = 5000  # events/s offered
SECONDS = 30
PER_REQUEST = 20
"""Events per request, all of one device: what an SDK's batch looks like."""


def _settings(data: Path) -> Settings:
    return Settings(
        data_dir=data,
        kafka=KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}"),
        collector=CollectorSettings(port=free_port()),
        sql=SqlSettings(port=free_port()),
        lookup=LookupSettings(port=free_port()),
        worker=WorkerSettings(metrics_port=free_port(2)),
        sink=SinkSettings(metrics_port=free_port()),
    )


async def _offer(settings: Settings) -> tuple[int, float]:
    url = f"http://127.0.0.1:{settings.collector.port}/v1/batch"
    interval = PER_REQUEST / RATE
    sent = 0
    async with httpx.AsyncClient(headers={"X-Siyu-Key": "demo-write-key"}, timeout=30) as client:
        started = time.perf_counter()
        tasks = []
        for i in range(int(SECONDS * RATE / PER_REQUEST)):
            due = started + i * interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            now = time.time_ns() // 1_000_000
            body = [
                {
                    "event_id": f"bench-{i}-{j}",
                    "event": "view_product",
                    "time": now,
                    "platform": "h5",
                    "identities": {"anonymous_id": f"a{i % 5000}"},
                    "properties": {"product_id": f"p{j}", "price": 19.9},
                }
                for j in range(PER_REQUEST)
            ]
            tasks.append(asyncio.create_task(client.post(url, content=orjson.dumps(body))))
            sent += PER_REQUEST
        answers = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    assert all(a.status_code == 200 for a in answers)
    return sent, elapsed


async def _kafka_round_trip(bootstrap: str) -> list[float]:
    topic = "siyu.events.deadletter"  # exists, unused by this run
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="bench-rt")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await consumer.start()
    await producer.start()
    await asyncio.sleep(6)  # group join
    latencies = []
    try:
        for _ in range(200):
            t = time.perf_counter()
            await producer.send_and_wait(topic, b"x", key=b"k")
            while not await consumer.getmany(timeout_ms=1000):
                pass
            latencies.append((time.perf_counter() - t) * 1000)
    finally:
        await producer.stop()
        await consumer.stop()
    return latencies


def run() -> BenchResult:
    result = BenchResult("pipeline", "raw Kafka produce→consume round trip, same broker")
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp))
        stack = Stack(settings)
        stack.start()
        try:
            sent, elapsed = asyncio.run(_offer(settings))
            deadline = time.monotonic() + 120
            sql = f"http://127.0.0.1:{settings.sql.port}/"
            while time.monotonic() < deadline:
                n = int(httpx.get(sql, params={"query": "SELECT count() FROM siyu.events"}).text)
                if n >= sent:
                    break
                time.sleep(0.5)
            lat = httpx.get(
                sql,
                params={
                    "query": "SELECT dateDiff('millisecond', received_at, inserted_at) "
                    "FROM siyu.events FORMAT JSONEachRow"
                },
            ).text.splitlines()
            ms = sorted(float(next(iter(orjson.loads(line).values()))) for line in lat)
            baseline = asyncio.run(_kafka_round_trip(settings.kafka.bootstrap))
        finally:
            stack.stop()
    result.add("events/s offered over HTTP", sent / elapsed, "events/s", goal=f"{RATE} steady")
    result.add("HTTP → ClickHouse p50", percentile(ms, 50), "ms", baseline=percentile(baseline, 50))
    result.add(
        "HTTP → ClickHouse p99",
        percentile(ms, 99),
        "ms",
        baseline=percentile(baseline, 99),
        goal="≤ 2000",
    )
    result.notes = f"{len(ms)} events measured"
    return result
