"""privacy.forget → forget one user in every stream table; suppress their identities.

A ``privacy.forget`` record is keyed by a user id, like ``events.stitched``, so it is
consumed by the worker that owns that user's partition of every per-user table. The
agent deletes the user's key from every table registered through the stream context
(whatever agent declared it), the person's keys from the identity graph (written by
key, like the link agent does) and adds the person's suppression keys to the
``privacy_suppressed`` GlobalTable, which the stitch agent checks for later events.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from schemas.exceptions import SchemaError
from schemas.privacy_records import decode_forget
from streams import metrics
from streams.agents.identity_table import GRAPH_TABLE
from streams.context import StreamContext
from streams.state import StateTable

__all__ = ["SUPPRESSED_TABLE", "register", "suppressed_table"]

logger = logging.getLogger(__name__)

SUPPRESSED_TABLE = "privacy_suppressed"


def suppressed_table(ctx: StreamContext) -> StateTable:
    return ctx.table(
        SUPPRESSED_TABLE, global_=True, help="suppression keys of forgotten identities"
    )


def _drop(table: Any, key: bytes) -> bool:
    if key in table:
        del table[key]
        return True
    return False


def register(ctx: StreamContext) -> None:
    suppressed = suppressed_table(ctx)

    @ctx.app.agent(ctx.topic("privacy.forget"), name="privacy_forget")
    async def forget(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            try:
                record = decode_forget(event.value)
            except SchemaError as exc:
                logger.warning("undecodable privacy.forget record skipped: %s", exc)
                continue
            for key in record.suppress:
                suppressed.put(key, {"request_id": record.request_id}, "privacy", 0)
            removed = 0
            if record.user_id:
                for table in ctx.tables.values():
                    if isinstance(table.table, faust.GlobalTable):
                        continue
                    removed += _drop(table.table, record.user_id.encode())
            graph = ctx.app.tables.get(GRAPH_TABLE)
            if graph is not None:
                for key in record.graph_keys:
                    removed += _drop(graph, key.encode())
            metrics.EVENTS.labels(agent="privacy_forget").inc()
            logger.info("forget %s: %d stream keys removed", record.request_id, removed)
