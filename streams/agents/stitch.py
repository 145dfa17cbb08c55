"""events.raw → events.stitched: give every event a user id.

Each worker stitches its ``events.raw`` partitions against its own full copy of the
identity graph (a GlobalTable, see :mod:`streams.agents.identity_table`). A record
whose events all resolve to known users without changing the graph is stitched on
the spot (the fast path: most traffic, no cross-worker coordination). Any other record
(a new identity, two users to join, an unbind) goes whole to the one-partition
``identity.links`` topic, where :mod:`streams.agents.identity_links` decides it.

Client retries (the same ``event_id`` resent in a later record) are dropped first,
within a bounded window of recent ids per partition
(:mod:`streams.domain.event_window`).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from schemas.records import decode_batch, encode_batch
from streams import metrics
from streams.agents import identity_links
from streams.agents import identity_metrics as m
from streams.agents.identity_config import load_rules
from streams.agents.identity_table import GraphStore, graph_table
from streams.context import StreamContext
from streams.domain.event_window import RecentEventIds
from streams.domain.stitching import LinkBarrier, known_users, prepare, stitch_known

__all__ = ["register"]

logger = logging.getLogger(__name__)


def register(ctx: StreamContext) -> None:
    rules = load_rules(ctx.settings)
    graph = GraphStore(graph_table(ctx.app, ctx.settings.kafka.partitions))
    identity_links.register(ctx, graph, rules)
    raw = ctx.topic("events.raw")
    stitched = ctx.topic("events.stitched")
    links = ctx.topic("identity.links")
    capacity = ctx.settings.identity.dedupe_window
    windows: dict[int, RecentEventIds] = {}
    barriers: dict[int, LinkBarrier] = {}

    @ctx.app.agent(raw, name="stitch")
    async def stitch(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            msg = event.message
            batch = decode_batch(event.value)
            partition = msg.partition
            if partition not in windows:
                windows[partition] = RecentEventIds(capacity)
                barriers[partition] = LinkBarrier()
            window = windows[partition]
            project = batch.project
            prepared = [
                prepare(rules, e)
                for e in batch.events
                if window.admit(hash((project, e.event_id)), msg.offset)
            ]
            m.RETRIES.inc(len(batch.events) - len(prepared))
            if not prepared:
                continue
            origin = f"{msg.topic}/{partition}"
            owner = graph.committed_owner(project)
            groups = stitch_known(rules, owner, project, prepared)
            barrier = barriers[partition]
            users = known_users(owner, prepared) if groups is None else {g.user_id for g in groups}
            if groups is None or barrier.must_link(msg.offset, users, graph.decided(origin)):
                barrier.sent(msg.offset, users)
                record = replace(
                    batch,
                    events=tuple(p.event for p in prepared),
                    origin=origin,
                    origin_offset=msg.offset,
                )
                await links.send(key=batch.key.encode(), value=encode_batch(record))
                continue
            for group in groups:
                record = replace(
                    batch,
                    key=group.user_id,
                    events=group.events,
                    origin=origin,
                    origin_offset=msg.offset,
                )
                await stitched.send(key=group.user_id.encode(), value=encode_batch(record))
            m.ROUTED.labels(path="fast").inc(len(prepared))
            metrics.EVENTS.labels(agent="stitch").inc(len(prepared))
