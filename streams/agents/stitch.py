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
from typing import Any

from schemas.codec import codec
from streams import metrics
from streams.agents import identity_links
from streams.agents import identity_metrics as m
from streams.agents.identity_config import load_rules
from streams.agents.identity_table import GraphStore, graph_table
from streams.agents.items import publish_items
from streams.agents.privacy import suppressed_table
from streams.context import StreamContext
from streams.domain.event_window import RecentEventIds
from streams.domain.privacy import screen
from streams.domain.stitching import LinkBarrier, plan_record

__all__ = ["register"]

logger = logging.getLogger(__name__)


def register(ctx: StreamContext) -> None:
    rules = load_rules(ctx.settings)
    graph = GraphStore(graph_table(ctx.app, ctx.settings.kafka.partitions))
    identity_links.register(ctx, graph, rules)
    raw = ctx.topic("events.raw")
    stitched = ctx.topic("events.stitched")
    links = ctx.topic("identity.links")
    items = ctx.topic("items.catalogue")
    capacity = ctx.settings.identity.dedupe_window
    windows: dict[int, RecentEventIds] = {}
    barriers: dict[int, LinkBarrier] = {}
    avro = codec("event_batch")
    # Forgotten people (privacy requests): their later events are dropped or anonymised.
    forgotten = suppressed_table(ctx).table
    later = ctx.settings.privacy.later_events

    def is_forgotten(key: str) -> bool:
        return key.encode() in forgotten

    @ctx.app.agent(raw, name="stitch")
    async def stitch(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            msg = event.message
            partition = msg.partition
            if partition not in windows:
                windows[partition] = RecentEventIds(capacity)
                barriers[partition] = LinkBarrier()
            # The Avro record as a dict: properties and context stay JSON text, untouched.
            batch = avro.decode(event.value)
            project = batch["project"]
            window = windows[partition]
            # The accepted request this record carries: the collector's outbox sends the
            # same record again (same key, same receive time) when it was not stored.
            request = (batch["key"], batch["received_at"])
            events = [
                e
                for e in batch["events"]
                if window.admit(hash((project, e["event_id"])), msg.offset, request)
            ]
            m.RETRIES.inc(len(batch["events"]) - len(events))
            if events and len(forgotten):
                events, hit = screen(rules, project, events, is_forgotten, later)
                metrics.EVENTS.labels(agent=f"privacy_{later}").inc(hit)
            if not events:
                continue
            await publish_items(items, project, events)
            owner = graph.committed_owner(project)
            plan = plan_record(
                rules, owner, project, [(e["event_id"], e["type"], e["identities"]) for e in events]
            )
            for e, shown in zip(events, plan.identities, strict=True):
                e["identities"] = shown
            batch["origin"] = origin = f"{msg.topic}/{partition}"
            batch["origin_offset"] = msg.offset
            barrier = barriers[partition]
            users = plan.users
            if users is None or barrier.must_link(msg.offset, set(users), graph.decided(origin)):
                barrier.sent(msg.offset, plan.known if users is None else set(users))
                batch["events"] = events
                await links.send(key=batch["key"].encode(), value=avro.encode(batch))
                continue
            groups: dict[str, list[dict[str, Any]]] = {}
            for user_id, e in zip(users, events, strict=True):
                e["user_id"] = user_id
                groups.setdefault(user_id, []).append(e)
            for user_id, grouped in groups.items():
                record = {**batch, "key": user_id, "events": grouped}
                await stitched.send(key=user_id.encode(), value=avro.encode(record))
            m.ROUTED.labels(path="fast").inc(len(events))
            metrics.EVENTS.labels(agent="stitch").inc(len(events))
