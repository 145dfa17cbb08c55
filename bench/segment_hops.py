"""Where a probe's segment change waits: the first record of each probe on every topic
of its path, by the record's create time (set by the process that produced it).

``events.raw`` (collector) → ``identity.links`` (a new user's events are decided on the
one-partition link path) → ``events.stitched`` → ``segments.changes`` (tag workers), then
the lookup API and the webhook receiver, measured by the benchmark itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from siyu.settings import Settings

__all__ = ["HOPS", "hop_times"]

HOPS = ("events.raw", "identity.links", "events.stitched", "segments.changes")


async def _first_seen(
    settings: Settings, topic: str, probe_of: Callable[[str], str | None]
) -> dict[str, float]:
    """Probe → create time (s) of its first record on ``topic``."""
    consumer = AIOKafkaConsumer(
        settings.kafka.topic(topic),
        bootstrap_servers=settings.kafka.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: dict[str, float] = {}
    try:
        idle = 0
        while idle < 2:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            idle = idle + 1 if not batch else 0
            for records in batch.values():
                for r in records:
                    probe = probe_of((r.key or b"").decode(errors="replace"))
                    if probe is not None:
                        seen[probe] = min(seen.get(probe, float("inf")), r.timestamp / 1000)
    finally:
        await consumer.stop()
    return seen


def hop_times(settings: Settings, anon_of_user: dict[str, str]) -> dict[str, dict[str, float]]:
    """Topic → probe (anonymous id) → when its first record was produced there."""

    def by_anon(key: str) -> str | None:
        # events.raw / identity.links are keyed by the primary identity, type=value.
        return key.rsplit("=", 1)[-1] if "=probe-" in key else None

    def by_user(key: str) -> str | None:
        return anon_of_user.get(key)

    async def scan() -> dict[str, dict[str, float]]:
        out = {}
        for topic in HOPS:
            keyed = by_user if topic in ("events.stitched", "segments.changes") else by_anon
            out[topic] = await _first_seen(settings, topic, keyed)
        return out

    return asyncio.run(scan())
