"""A Faust worker that resumes its stream after a table recovery, with a slow seek.

Run as ``python -m tests.integration.faust_resume_race BOOTSTRAP TOPIC PATCHED`` after
:func:`prepare`: the group has committed ``COMMITTED`` of the topic's ``TOTAL`` records;
the worker reads on until it has committed them all (or its commit stopped moving) and
prints, as JSON, the offsets its stream got, in order, and the offset the group
committed. ``PATCHED`` is ``1`` to install :data:`siyu.kafka_compat.FAUST_FIXES`, ``0`` to
run Faust as shipped.

The seek at the end of recovery is made slower (before and after it, the event loop is
busy elsewhere) and the stream's buffer small, so that the window in which Faust used to
hand out records of the old position is wide enough to be hit on every run.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faust.transport.consumer import Consumer

from siyu import kafka_compat

TOTAL = 3000
COMMITTED = 1000
STATE = 200
"""Records in the table's changelog before the worker starts: it has something to recover."""
WAIT_S = 30.0
STALL_S = 3.0
SLOW_S = 0.5
BUFFER = 50
WORK_S = 0.002
"""A small stream buffer and a stream that takes its time: the fetcher waits on a full
buffer with records in hand, as a busy worker does."""


def group(topic: str) -> str:
    """The worker's group (its Faust app id)."""
    return f"{topic}-group"


def changelog(topic: str) -> str:
    return f"{group(topic)}-{topic}-seen-changelog"


async def committed(bootstrap: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group(topic))
    await consumer.start()
    try:
        offset: int | None = await consumer.committed(TopicPartition(topic, 0))
        return offset
    finally:
        await consumer.stop()


async def prepare(bootstrap: str, topic: str) -> None:
    """``TOTAL`` records on ``topic``, ``COMMITTED`` of them committed by the worker's group,
    and ``STATE`` records in its table's changelog."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(changelog(topic), 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        sent = [await producer.send(topic, str(i).encode(), partition=0) for i in range(TOTAL)]
        sent += [
            await producer.send(changelog(topic), str(i).encode(), key=b'"records"', partition=0)
            for i in range(STATE)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group(topic), enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.commit({tp: COMMITTED})
    finally:
        await consumer.stop()


def _slow_seeks() -> None:
    shipped = Consumer.perform_seek

    async def perform_seek(self: Any) -> None:
        await asyncio.sleep(SLOW_S)
        await shipped(self)
        await asyncio.sleep(SLOW_S)

    Consumer.perform_seek = perform_seek  # type: ignore[method-assign]


async def run(bootstrap: str, topic: str, patched: bool) -> dict[str, Any]:
    kafka_compat.uninstall(kafka_compat.CONSUMER_PATCHES)
    if patched:
        kafka_compat.install("none", kafka_compat.CONSUMER_PATCHES)
    _slow_seeks()
    app = faust.App(
        group(topic),
        broker=f"kafka://{bootstrap}",
        store="memory://",
        topic_partitions=1,
        web_enabled=False,
        autodiscover=False,
        broker_commit_interval=0.2,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=2.0,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        table_standby_replicas=0,
        stream_buffer_maxsize=BUFFER,
        key_serializer="json",
        value_serializer="json",
    )
    seen = app.Table(f"{topic}-seen", default=int, partitions=1)
    source = app.topic(topic, partitions=1, key_serializer="raw", value_serializer="raw")
    got: list[int] = []

    @app.agent(source)
    async def count(stream: Any) -> None:
        async for event in stream.events():
            got.append(event.message.offset)
            await asyncio.sleep(WORK_S)
            seen["records"] += 1

    await app.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        last, since = None, loop.time()
        while loop.time() < deadline:
            now = await committed(bootstrap, topic)
            if now == TOTAL:
                break
            if now != last:
                last, since = now, loop.time()
            elif TOTAL - 1 in got and loop.time() - since > STALL_S:
                break  # the stream has had every record; the commit no longer moves
            await asyncio.sleep(0.2)
    finally:
        await app.stop()
    return {"got": got, "committed": await committed(bootstrap, topic)}


if __name__ == "__main__":  # pragma: no cover - run by tests/integration/test_offsets.py
    result = asyncio.run(run(sys.argv[1], sys.argv[2], sys.argv[3] == "1"))
    print(json.dumps(result))
