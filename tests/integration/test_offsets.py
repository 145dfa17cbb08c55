"""End offsets on the embedded broker, and the Faust patches its quirks need
(:mod:`siyu.kafka_compat`, :mod:`siyu.broker_quirks`): each test shows what a patch or
the adapter prevents on this broker."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from siyu import kafka_compat
from siyu.broker import start_broker
from siyu.broker_quirks import for_quirks
from siyu.settings import KafkaSettings
from siyu.topics import ensure_topics
from tests.integration import faust_resume_race as race
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
    written = asyncio.run(_consumed_counts(broker))
    assert asyncio.run(for_quirks("tansu").end_offsets(broker, _tps())) == written
    # Without the adapter's workaround (a real Kafka's ListOffsets) this broker stops short.
    plain = asyncio.run(for_quirks("none").end_offsets(broker, _tps()))
    assert any(plain[tp] < written[tp] for tp in _tps())


def test_recovery_patch_gives_faust_the_true_highwaters(broker: str) -> None:
    written = asyncio.run(_consumed_counts(broker))
    unpatched = asyncio.run(_highwaters(broker, kafka_compat.original("true_highwaters")))
    patched = asyncio.run(_highwaters(broker, kafka_compat.PATCHES["true_highwaters"].replacement))
    assert patched == written
    # Faust's own answer stops short on this broker: recovery would miss records.
    assert any(unpatched[tp] < written[tp] for tp in _tps())


async def _handed_first(bootstrap: str, fetch: object) -> dict[int, int]:
    """Faust's fetch (``fetch``) called the way its fetcher does when a rebalance or
    table recovery has just paused every partition, then again once they resume: the
    first offset handed over per partition (records handed over while nothing is active
    are dropped by Faust, so they do not count)."""
    thread = SimpleNamespace(consumer=SimpleNamespace(flow_active=True))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    consumer.assign(_tps())
    try:
        await asyncio.sleep(1)  # records buffered in the background
        await fetch(thread, consumer, set(), 1.0, None)  # type: ignore[operator]
        resumed = await fetch(thread, consumer, set(_tps()), 2.0, None)  # type: ignore[operator]
        return {tp.partition: records[0].offset for tp, records in resumed.items()}
    finally:
        await consumer.stop()


def test_a_fetch_with_no_active_partition_skips_nothing(broker: str) -> None:
    patched = asyncio.run(_handed_first(broker, kafka_compat.fetch_active_records))
    assert patched == {p: 0 for p in range(4)}
    # Faust's own fetch: aiokafka takes "no partitions" for all and they are lost.
    unpatched = asyncio.run(_handed_first(broker, kafka_compat.original("empty_active_fetch")))
    assert all(offset > 0 for offset in unpatched.values())


async def _positions_after_seek(bootstrap: str, group: str, patched: bool) -> dict[int, int]:
    """Positions after a consumer of a group that committed only partition 0 (at 100)
    moved to the end and then seeks to the committed offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    consumer.assign(_tps())
    try:
        await consumer.commit({TopicPartition(TOPIC, 0): 100})
        for tp, end in (await for_quirks("tansu").end_offsets(bootstrap, _tps())).items():
            consumer.seek(tp, end)
        if patched:
            await kafka_compat.seek_committed_or_beginning(consumer, lambda topic: topic == TOPIC)
        else:
            await consumer.seek_to_committed()
        return {tp.partition: await consumer.position(tp) for tp in _tps()}
    finally:
        await consumer.stop()


def test_seek_sends_partitions_without_a_commit_back_to_the_beginning(broker: str) -> None:
    written = asyncio.run(_consumed_counts(broker))
    patched = asyncio.run(_positions_after_seek(broker, "seek-patched", patched=True))
    assert patched == {0: 100, 1: 0, 2: 0, 3: 0}
    # aiokafka's own seek leaves a partition without a commit where it was.
    unpatched = asyncio.run(_positions_after_seek(broker, "seek-unpatched", patched=False))
    assert unpatched[0] == 100
    assert all(unpatched[p] == written[TopicPartition(TOPIC, p)] for p in (1, 2, 3))


def _resume_runs(bootstrap: str) -> dict[bool, dict[str, Any]]:
    """A worker resuming its stream after a recovery, with Faust's fixes and without, at
    once (each on its own topic, in its own process)."""
    procs = {}
    for patched in (True, False):
        topic = f"resume-{'fixed' if patched else 'shipped'}"
        asyncio.run(race.prepare(bootstrap, topic))
        procs[patched] = subprocess.Popen(
            [sys.executable, "-m", race.__name__, bootstrap, topic, str(int(patched))],
            cwd=Path(__file__).parents[2],
            stdout=subprocess.PIPE,
            text=True,
        )
    return {
        p: json.loads(proc.communicate(timeout=180)[0].splitlines()[-1])
        for p, proc in procs.items()
    }


def test_a_stream_resumes_at_its_committed_record_after_a_recovery(broker: str) -> None:
    runs = _resume_runs(broker)
    expected = list(range(race.COMMITTED, race.TOTAL))
    assert runs[True]["got"] == expected  # from the committed record on, each once, in order
    assert runs[True]["committed"] == race.TOTAL
    # Faust as shipped: records handed out before the seek were cleared unprocessed, then
    # dropped as already read when fetched again; the partition stopped committing.
    shipped = runs[False]
    lost = set(expected) - set(shipped["got"])
    assert lost
    assert shipped["committed"] <= min(lost)
