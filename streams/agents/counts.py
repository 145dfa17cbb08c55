"""Per-user event counts: the simplest piece of recoverable, idempotent stream state."""

from __future__ import annotations

from schemas.records import decode_batch
from streams import metrics
from streams.context import StreamContext

__all__ = ["register"]


def register(ctx: StreamContext) -> None:
    counts = ctx.table("user_event_counts", help="events seen per user id")

    @ctx.app.agent(ctx.topic("events.stitched"), name="counts")
    async def count(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            batch = decode_batch(event.value)
            n = len(batch.events)
            applied, _ = counts.update(
                batch.key, batch.origin, batch.origin_offset, lambda old, n=n: (old or 0) + n
            )
            outcome = "applied" if applied else "replay_skipped"
            metrics.EVENTS.labels(agent=f"counts_{outcome}").inc(n)
