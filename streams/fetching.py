"""Keep Faust from skipping records of partitions the group has never committed.

Faust passes its set of *active* partitions (assigned minus paused) to aiokafka's
``fetched_records`` and then drops any record whose partition is not in that set. The
set is one object, cleared and refilled in place on every rebalance and while table
recovery pauses the partitions; when it happens to be empty as aiokafka reads it,
aiokafka takes "no partitions" for "every partition" and hands over all buffered
records, which Faust then drops: the consumer's position has moved past records that
were never processed. Faust counts on its seek to the committed offsets after recovery
to go back over such records, but aiokafka's ``seek_to_committed`` does not move a
partition whose committed offset is missing (or 0), so on a group's first assignment
the records stayed skipped, and the next commit of a later record made the loss final
(a worker killed within seconds of the first assignment lost a few dozen records).

:func:`install` fixes both halves: an empty active set fetches nothing, and the seek
sends source partitions without a committed offset back to the beginning (the group's
``auto_offset_reset`` is "earliest"). Re-reading records is safe: every agent's state
and every sink are idempotent. ``tests/integration/test_offsets.py`` shows what each
patch prevents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["fetch_active_records", "install", "seek_committed_or_beginning", "uninstall"]

_Thread = faust_aiokafka.AIOKafkaConsumerThread
_FETCH_RECORDS = _Thread._fetch_records
_SEEK_TO_COMMITTED = _Thread.seek_to_committed


async def fetch_active_records(
    self: Any,
    consumer: AIOKafkaConsumer,
    active_partitions: set[Any] | None,
    timeout: float | None = None,
    max_records: int | None = None,
) -> Mapping[Any, Any]:
    """Faust's fetch, except that no active partition means no records (not all)."""
    if active_partitions is not None and not active_partitions:
        return {}
    return await _FETCH_RECORDS(self, consumer, active_partitions, timeout, max_records)  # type: ignore[arg-type]


async def seek_committed_or_beginning(
    consumer: AIOKafkaConsumer, is_source: Callable[[str], bool]
) -> Mapping[TopicPartition, int | None]:
    """Seek every assigned partition to its committed offset, and the partitions of
    source topics (``is_source(topic)``) where the group has committed nothing to the
    beginning. Returns the committed offsets. Table changelogs, which the group never
    commits, keep their position: recovery reads them on its own."""
    committed: Mapping[TopicPartition, int | None] = await consumer.seek_to_committed()
    fresh = [tp for tp, offset in committed.items() if not offset and is_source(tp.topic)]
    if fresh:
        await consumer.seek_to_beginning(*fresh)
    return committed


async def _seek_to_committed(self: Any) -> Mapping[TopicPartition, int | None]:
    result: Mapping[TopicPartition, int | None] = await self.call_thread(
        seek_committed_or_beginning,
        self._ensure_consumer(),
        self.consumer.app.topics.acks_enabled_for,
    )
    return result


def install() -> None:
    """Patch Faust (idempotent)."""
    _Thread._fetch_records = fetch_active_records  # type: ignore[method-assign]
    _Thread.seek_to_committed = _seek_to_committed  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Restore Faust's own methods (tests use it to show what the patch prevents)."""
    _Thread._fetch_records = _FETCH_RECORDS  # type: ignore[method-assign]
    _Thread.seek_to_committed = _SEEK_TO_COMMITTED  # type: ignore[method-assign]
