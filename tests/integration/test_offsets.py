"""End offsets on the embedded broker, and the Faust recovery patch built on them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

from siyu.broker import start_broker
from siyu.offsets import true_end_offsets
from siyu.settings import KafkaSettings
from siyu.topics import ensure_topics
from streams import recovery
from tests.stack import free_port

pytestmark = pytest.mark.integration

TOPIC = "siyu.events.raw"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    bootstrap = f"127.0.0.1:{free_port()}"
    proc = start_broker(bootstrap, Path(tmp_path_factory.mktemp("broker")) / "broker.log")
    try:
        asyncio.run(ensure_topics(KafkaSettings(bootstrap=bootstrap)))
        asyncio.run(_produce(bootstrap, 1000))
        yield bootstrap
    finally:
        proc.terminate()
        proc.wait(10)


async def _produce(bootstrap: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        # Many records per batch: the case the broker's ListOffsets answer gets wrong.
        futures = [await producer.send(TOPIC, b"v", key=str(i).encode()) for i in range(n)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _tps() -> list[TopicPartition]:
    return [TopicPartition(TOPIC, p) for p in range(4)]


async def _consumed_counts(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    consumer.assign(_tps())
    counts = dict.fromkeys(_tps(), 0)
    try:
        while sum(counts.values()) < 1000:
            for tp, records in (await consumer.getmany(timeout_ms=2000)).items():
                counts[tp] += len(records)
    finally:
        await consumer.stop()
    return counts


async def _highwaters(bootstrap: str, method: object) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        thread = SimpleNamespace(
            _ensure_consumer=lambda: consumer, consumer=SimpleNamespace(in_transaction=False)
        )
        return dict(await method(thread, _tps()))  # type: ignore[operator]
    finally:
        await consumer.stop()


def test_true_end_offsets_match_what_was_written(broker: str) -> None:
    assert asyncio.run(true_end_offsets(broker, _tps())) == asyncio.run(_consumed_counts(broker))


def test_recovery_patch_gives_faust_the_true_highwaters(broker: str) -> None:
    written = asyncio.run(_consumed_counts(broker))
    unpatched = asyncio.run(_highwaters(broker, recovery._ORIGINAL))
    patched = asyncio.run(_highwaters(broker, recovery._true_highwaters))
    assert patched == written
    # Faust's own answer stops short on this broker: recovery would miss records.
    assert any(unpatched[tp] < written[tp] for tp in _tps())


def test_install_replaces_faust_method() -> None:
    recovery.uninstall()
    assert not recovery.installed()
    recovery.install()
    assert faust_aiokafka.AIOKafkaConsumerThread._highwaters is recovery._true_highwaters
