"""events.raw → events.stitched: give every event a user id.

Placeholder resolution until the identity graph lands: the user id is derived from the
record's primary identity (its partition key).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

from schemas.records import decode_batch, encode_batch
from streams import metrics
from streams.context import StreamContext

__all__ = ["register"]

logger = logging.getLogger(__name__)


def _placeholder_user(project: str, key: str) -> str:
    return "u" + hashlib.blake2b(f"{project}\x00{key}".encode(), digest_size=8).hexdigest()


def register(ctx: StreamContext) -> None:
    raw = ctx.topic("events.raw")
    stitched = ctx.topic("events.stitched")

    @ctx.app.agent(raw, name="stitch")
    async def stitch(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            batch = decode_batch(event.value)
            user_id = _placeholder_user(batch.project, batch.key)
            out = replace(
                batch,
                key=user_id,
                origin=f"{event.message.topic}/{event.message.partition}",
                origin_offset=event.message.offset,
                events=tuple(e.with_user(user_id) for e in batch.events),
            )
            await stitched.send(key=user_id.encode(), value=encode_batch(out))
            metrics.EVENTS.labels(agent="stitch").inc(len(batch.events))
