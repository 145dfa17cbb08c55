"""Funnels live: per-user progress on events.stitched, per-sharer fission state on the
internal funnels.fission topic, step completions and share edges to funnels.progress,
referral rewards to tags.changes.

State documents are ``{"p": project, "d": <domain document>}`` (the project is needed to
address records sent after an identity merge). Replays are skipped per stitched record
(topic/partition and offset); the domain itself is idempotent on top of that, since a
re-stitched record carries a new offset.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from schemas.funnel_records import decode_signals, encode_progress, encode_signals
from schemas.records import EventBatch
from schemas.tag_records import encode_tag_changes
from streams import metrics
from streams.agents.identity_config import load_rules
from streams.agents.share_resolver import graph_resolver
from streams.context import StreamContext
from streams.domain import funnel_state as fs
from streams.domain.fission import FissionEdge, FissionSignal, SharerOutputs, share_of
from streams.domain.funnel_defs import FunnelSet
from streams.domain.funnels import StepCompletion
from streams.domain.tag_definitions import TagChange
from streams.funnel_config import funnels_of
from streams.merging import follow_merges, register_merge_transfer
from streams.zones import DEFAULT_ZONE, project_offsets, utc_offset_s

__all__ = ["register"]

logger = logging.getLogger(__name__)

Doc = dict[str, Any]


def _merge_users(a: Doc | None, b: Doc | None) -> Doc:
    return {
        "p": (a or b or {}).get("p", ""),
        "d": fs.merge_user_docs((a or {}).get("d"), (b or {}).get("d")),
    }


def _merge_sharers(a: Doc | None, b: Doc | None) -> Doc:
    return {
        "p": (a or b or {}).get("p", ""),
        "d": fs.merge_sharer_docs((a or {}).get("d"), (b or {}).get("d")),
    }


def register(ctx: StreamContext) -> None:
    s = ctx.settings
    base: FunnelSet = funnels_of(s.worker.funnels_file, s.tags.file)
    # Entry days are the project's calendar days: one funnel set per project's zone.
    zoned = {name: base.in_zone(off) for name, off in project_offsets(ctx.settings).items()}
    fallback = base.in_zone(utc_offset_s(DEFAULT_ZONE))

    def defs(project: str) -> FunnelSet:
        return zoned.get(project, fallback)

    users = ctx.table("funnel_progress", help="per-user funnel progress and invitee attribution")
    sharers = ctx.table("fission_sharers", help="per-sharer shares, invitees and rewards")
    progress_topic = ctx.topic("funnels.progress")
    fission_topic = ctx.topic("funnels.fission")
    tags_topic = ctx.topic("tags.changes")
    resolver = graph_resolver(ctx.app, load_rules(ctx.settings))

    async def emit(
        project: str,
        user_id: str,
        steps: Sequence[StepCompletion],
        edges: Sequence[FissionEdge] = (),
    ) -> None:
        if steps or edges:
            value = encode_progress(project, user_id, steps, edges)
            await progress_topic.send(key=user_id.encode(), value=value)

    async def send_signals(project: str, signals: Sequence[FissionSignal]) -> None:
        by_user: dict[str, list[FissionSignal]] = defaultdict(list)
        for s in signals:
            by_user[s.to].append(s)
        for to, group in by_user.items():
            await fission_topic.send(key=to.encode(), value=encode_signals(project, group))

    async def sharer_outputs(project: str, user_id: str, out: SharerOutputs) -> None:
        await emit(project, user_id, out.completions, out.edges)
        await send_signals(project, out.signals)
        if out.rewards:
            changes = [
                TagChange(
                    user_id,
                    r.tag,
                    r.old,
                    r.new,
                    r.t * 1000,
                    f"referral:{r.invitee}" if r.invitee else "merge",
                )
                for r in out.rewards
            ]
            await tags_topic.send(
                key=user_id.encode(), value=encode_tag_changes(project, user_id, changes)
            )

    async def after_user_merge(survivor: str, doc: Doc | None) -> None:
        if doc is None:
            return
        settled, steps = fs.settle_user(defs(doc["p"]), doc["d"])
        users.put(survivor, {**doc, "d": settled}, "settle", 0)
        await emit(doc["p"], survivor, steps)

    async def after_sharer_merge(survivor: str, doc: Doc | None) -> None:
        if doc is None:
            return
        settled, out = fs.settle_sharer(defs(doc["p"]), doc["d"], survivor)
        sharers.put(survivor, {**doc, "d": settled}, "settle", 0)
        await sharer_outputs(doc["p"], survivor, out)

    register_merge_transfer(ctx, users, _merge_users, after=after_user_merge)
    register_merge_transfer(ctx, sharers, _merge_sharers, after=after_sharer_merge)

    async def apply(user_id: str, batch: EventBatch, origin: str, offset: int) -> None:
        if users.applied(user_id, origin, offset):
            metrics.EVENTS.labels(agent="funnels_replay_skipped").inc(len(batch.events))
            return
        shared = {
            s[0]: who
            for e in batch.events
            if (s := share_of(e)) and (who := resolver.resolve(batch.project, e, s[0]))
        }
        old = users.get(user_id) or {}
        doc, steps, signals = fs.apply_events(
            defs(batch.project), old.get("d"), user_id, batch.events, shared
        )
        users.put(user_id, {"p": batch.project, "d": doc}, origin, offset)
        await emit(batch.project, user_id, steps)
        await send_signals(batch.project, signals)
        metrics.EVENTS.labels(agent="funnels").inc(len(batch.events))

    routed = follow_merges(ctx, users, apply)

    read = ctx.stitched.reader()

    @ctx.app.agent(ctx.topic("events.stitched"), name="funnels")
    async def funnels(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            msg = event.message
            batch = read(msg.partition, msg.offset, event.value)
            origin = f"{msg.topic}/{msg.partition}"
            await routed(batch.key, event.value, batch, origin, msg.offset)

    @ctx.app.agent(fission_topic, name="fission")
    async def fission(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            msg = event.message
            project, signals = decode_signals(event.value)
            user_id = event.key.decode()
            origin = f"{msg.topic}/{msg.partition}"
            if sharers.applied(user_id, origin, msg.offset):
                metrics.EVENTS.labels(agent="fission_replay_skipped").inc(len(signals))
                continue
            old = sharers.get(user_id) or {}
            doc, out = fs.apply_signals(defs(project), old.get("d"), user_id, signals)
            sharers.put(user_id, {"p": project, "d": doc}, origin, msg.offset)
            await sharer_outputs(project, user_id, out)
            metrics.EVENTS.labels(agent="fission").inc(len(signals))
