"""Per-user event counts: the simplest piece of recoverable, idempotent stream state."""

from __future__ import annotations

from functools import partial

from schemas.records import EventBatch
from streams import metrics
from streams.context import StreamContext
from streams.merging import follow_merges, register_merge_transfer

__all__ = ["register"]


def _add_counts(survivor: int | None, loser: int | None) -> int:
    return (survivor or 0) + (loser or 0)


def register(ctx: StreamContext) -> None:
    counts = ctx.table("user_event_counts", help="events seen per user id")
    register_merge_transfer(ctx, counts, _add_counts)

    async def apply(user_id: str, batch: EventBatch, origin: str, offset: int) -> None:
        n = len(batch.events)
        applied, _ = counts.update(user_id, origin, offset, partial(_add_counts, loser=n))
        outcome = "applied" if applied else "replay_skipped"
        metrics.EVENTS.labels(agent=f"counts_{outcome}").inc(n)

    routed = follow_merges(ctx, counts, apply)

    read = ctx.stitched.reader()

    @ctx.app.agent(ctx.topic("events.stitched"), name="counts")
    async def count(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            batch = read(event.message.partition, event.message.offset, event.value)
            await routed(batch.key, event.value, batch, batch.origin, batch.origin_offset)
