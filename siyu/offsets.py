"""True end offsets on brokers that answer ListOffsets(latest) wrongly, and consumer lag.

The embedded broker (Tansu 0.6) answers ListOffsets(latest) with the base offset of the
last record batch + 1, not the last offset + 1. The high watermark in a Fetch response is
right, so the true end is found by fetching the last batch:
``end = max(ListOffsets answer, last fetched offset + 1, Fetch high watermark)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["committed_offsets", "group_lag", "true_end_offsets_with"]

logger = logging.getLogger(__name__)

# One fetch of the last batch is enough; the timeout only bounds an unreachable broker.
_FETCH_TIMEOUT_MS = 2000


async def true_end_offsets_with(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """End offsets (last offset + 1) using an already started, group-less consumer."""
    tps = list(partitions)
    if not tps:
        return {}
    reported: Mapping[TopicPartition, int] = await consumer.end_offsets(tps)
    consumer.assign(tps)
    ends: dict[TopicPartition, int] = {}
    pending = []
    for tp in tps:
        answer = reported.get(tp) or 0
        ends[tp] = answer
        if answer > 0:
            consumer.seek(tp, answer - 1)
            pending.append(tp)
        else:
            consumer.pause(tp)
    if pending:
        for tp in tps:
            if tp not in pending:
                consumer.pause(tp)
        records = await consumer.getmany(*pending, timeout_ms=_FETCH_TIMEOUT_MS)
        for tp in pending:
            last = max((r.offset for r in records.get(tp, ())), default=-1)
            high = consumer.highwater(tp) or 0
            ends[tp] = max(ends[tp], last + 1, high)
    return ends


async def committed_offsets(
    bootstrap: str, group_id: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Offsets the consumer group committed (next offset to read), by partition.

    Asks through a consumer that names the group but never joins it (the embedded
    broker closes the connection on the admin client's OffsetFetch request).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        found: dict[TopicPartition, int] = {}
        for tp in partitions:
            offset = await consumer.committed(tp)
            if offset is not None and offset >= 0:
                found[tp] = offset
        return found
    finally:
        await consumer.stop()


async def group_lag(
    bootstrap: str,
    group_id: str,
    topics: Iterable[str],
    partitions: int,
    *,
    overrides: Mapping[str, int] | None = None,
    end_offsets: Callable[[str, list[TopicPartition]], Awaitable[dict[TopicPartition, int]]],
) -> dict[TopicPartition, tuple[int, int]]:
    """``{tp: (committed, end)}`` for every partition of ``topics``.

    ``overrides`` gives the partition count of topics that differ from ``partitions``
    (asking for a partition that does not exist waits forever). ``end_offsets`` is the
    broker adapter's (:meth:`siyu.broker_quirks.BrokerQuirks.end_offsets`).
    """
    counts = overrides or {}
    tps = [TopicPartition(t, p) for t in topics for p in range(counts.get(t, partitions))]
    ends, committed = await asyncio.gather(
        end_offsets(bootstrap, tps), committed_offsets(bootstrap, group_id, tps)
    )
    return {tp: (committed.get(tp, 0), ends.get(tp, 0)) for tp in tps}
