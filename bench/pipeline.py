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
from bench.traffic import offer
from siyu.embedded import Stack
from siyu.ports import local_settings

__all__ = ["run"]

RATE = 5000  # events/s offered
SECONDS = 30


async def _kafka_round_trip(bootstrap: str, fetch_wait_ms: int) -> list[float]:
    topic = "siyu.events.deadletter"  # exists, unused by this run
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id="bench-rt", fetch_max_wait_ms=fetch_wait_ms
    )
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
        settings = local_settings(Path(tmp))
        stack = Stack(settings)
        stack.start()
        try:
            sent, failed, elapsed = asyncio.run(offer(settings, rate=RATE, seconds=SECONDS))
            deadline = time.monotonic() + 120
            sql = f"http://127.0.0.1:{settings.sql.port}/"
            auth = ("default", "demo-read-key")
            while time.monotonic() < deadline:
                n = int(
                    httpx.get(
                        sql, params={"query": "SELECT count() FROM siyu.events"}, auth=auth
                    ).text
                )
                if n >= sent:
                    break
                time.sleep(0.5)
            lat = httpx.get(
                sql,
                params={
                    "query": "SELECT dateDiff('millisecond', received_at, inserted_at) "
                    "FROM siyu.events FORMAT JSONEachRow"
                },
                auth=auth,
            ).text.splitlines()
            ms = sorted(float(next(iter(orjson.loads(line).values()))) for line in lat)
            baseline = asyncio.run(
                _kafka_round_trip(settings.kafka.bootstrap, settings.kafka.fetch_max_wait_ms)
            )
        finally:
            stack.stop()
    result.add("events/s accepted over HTTP", sent / elapsed, "events/s", goal=f"{RATE} steady")
    result.add("failed requests", failed, "requests", goal="0")
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
