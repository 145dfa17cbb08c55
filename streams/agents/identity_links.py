"""identity.links → events.stitched, identity.map, identity.merges, identity.conflicts.

The one place the identity graph changes. ``identity.links`` has a single partition,
so exactly one worker runs this agent at a time and decides every link in one order:
two events racing to join the same identities on different ``events.raw`` partitions
meet here, one after the other, and cannot disagree.

Per batch of records (each the events of one request that needed a graph change), in
this order:

1. decide each event against the graph, staging its changes (later events and records
   of the batch read them);
2. send the stitched events (each event with the user it has after the whole record,
   so an event followed by a merge in the same record lands on the survivor, and the
   user its share names marked, :mod:`streams.agents.share_resolver`) and the
   assignments, merges and conflicts, and wait until the broker has them all;
3. write the staged changes to the graph table (other agents and workers see them);
   the batch's offsets are committed after that.

A worker killed anywhere in between replays the record: decisions are idempotent
(:mod:`streams.domain.identity`), stitched records keep the raw record's origin offset
so per-user state skips them, and assignments, merges and conflicts are deduplicated by
their consumers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from schemas.codec import codec
from schemas.identity_records import (
    IdentityAssignment,
    IdentityConflict,
    assignment_key,
    encode_assignment,
    encode_conflict,
)
from schemas.merge_records import IdentityMerge, encode_merge
from streams.agents import identity_metrics as m
from streams.agents.identity_table import GraphStore
from streams.agents.share_resolver import ShareResolver
from streams.context import StreamContext
from streams.domain.identity import link
from streams.domain.identity_model import Assignment
from streams.domain.identity_rules import Identity, IdentityRules
from streams.domain.stitching import prepare_identities

__all__ = ["Decided", "decide_batch", "register"]

logger = logging.getLogger(__name__)

_BATCH_RECORDS = 500
_BATCH_WITHIN_S = 0.02


Event = dict[str, Any]
"""An event of the Avro record as a dict (properties and context stay JSON text)."""


@dataclass
class Decided:
    """What one links record produces."""

    stitched: dict[str, list[Event]] = field(default_factory=dict)
    """Events by user id, each carrying its user id."""
    assignments: list[IdentityAssignment] = field(default_factory=list)
    merges: list[IdentityMerge] = field(default_factory=list)
    conflicts: list[IdentityConflict] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    batch: dict[str, Any] = field(default_factory=dict)
    """The record decided (the Avro record as a dict)."""


def decide_batch(rules: IdentityRules, graph: GraphStore, batch: dict[str, Any]) -> Decided:
    """Decide every event of a links record (the Avro record as a dict), staging the
    graph changes in ``graph``."""
    project = batch["project"]
    out = Decided(batch=batch)
    pairs: list[tuple[str, Event]] = []
    published: dict[Identity, tuple[Assignment, int, str]] = {}
    # An event carrying the same identities as one decided earlier in the record
    # changes nothing: the earlier decision stands (merges later in the record are
    # followed below; an unbind forgets what was decided).
    decided: dict[tuple[tuple[str, str], ...], str] = {}
    for event in batch["events"]:
        identities, shown = prepare_identities(rules, event["identities"])
        event["identities"] = shown
        same = tuple(shown.items())
        unbind = event["type"] == "track_id_unbind"
        if unbind:
            decided.clear()
        elif same in decided:
            pairs.append((decided[same], event))
            out.outcomes["known"] += 1
            continue
        event_id, time = event["event_id"], event["time"]
        result = link(
            rules,
            graph,
            project=project,
            event_id=event_id,
            event_type=event["type"],
            identities=identities,
            time=time,
            version=graph.next_version(),
        )
        graph.stage(project, result)
        if not unbind:
            decided[same] = result.user_id
        out.outcomes[result.outcome] += 1
        pairs.append((result.user_id, event))
        for a in result.published:
            published[a.identity] = (a, time, event_id)
        out.merges += [
            IdentityMerge(project, x.loser, x.survivor, time, event_id, x.reason)
            for x in result.merges
        ]
        out.conflicts += [
            IdentityConflict(
                project,
                event_id,
                time,
                c.identity.key,
                c.identity.value,
                c.user_id,
                c.other_user_id,
                c.reason,
            )
            for c in result.conflicts
        ]
    for user_id, event in pairs:
        final = graph.final_user(project, user_id)
        event["user_id"] = final
        out.stitched.setdefault(final, []).append(event)
    if batch["origin"]:
        graph.stage_decided(batch["origin"], batch["origin_offset"])
    out.assignments = [
        IdentityAssignment(
            project, a.identity.key, a.identity.value, a.user_id, a.version, time, event_id
        )
        for a, time, event_id in published.values()
    ]
    return out


def register(ctx: StreamContext, graph: GraphStore, rules: IdentityRules) -> None:
    links = ctx.topic("identity.links")
    stitched = ctx.topic("events.stitched")
    identity_map = ctx.topic("identity.map")
    merges = ctx.topic("identity.merges")
    conflicts = ctx.topic("identity.conflicts")
    avro = codec("event_batch")

    shares = ShareResolver(rules, graph)  # reads the staged decisions too

    @ctx.app.agent(links, name="identity_links")
    async def decide(stream):  # type: ignore[no-untyped-def]
        # Records are decided in small batches: one wait for the broker per batch.
        async for events in stream.take_events(_BATCH_RECORDS, within=_BATCH_WITHIN_S):
            sent = []
            for event in events:
                batch = avro.decode(event.value)
                out = decide_batch(rules, graph, batch)  # staged: later records read it
                for linked in out.stitched.values():
                    shares.mark(batch["project"], linked)
                sent += [
                    await topic.send(key=k, value=v, force=True) for topic, k, v in outputs(out)
                ]
                m.ROUTED.labels(path="link").inc(len(batch["events"]))
                for outcome, n in out.outcomes.items():
                    m.LINKS.labels(outcome=outcome).inc(n)
                m.MERGES.inc(len(out.merges))
                for c in out.conflicts:
                    m.CONFLICTS.labels(reason=":".join(c.reason.split(":")[:2])).inc()
            # Everything the batch produces is on the broker before the graph shows its
            # decisions, and the batch's offsets are committed only after that. The fast
            # path (any worker) follows the graph, so a later record of the same user
            # lands after these stitched events. A worker killed before the graph write
            # decides the batch again (duplicates are dropped downstream); one killed
            # after it has published everything already. (A send only queues the record
            # in the producer; the commit flushes it, but the graph write, local at once
            # and on its changelog, would not wait for that.)
            await asyncio.gather(*sent)
            graph.flush()

    def outputs(out: Decided) -> Iterator[tuple[Any, bytes, bytes]]:
        for user_id, events in out.stitched.items():
            record = {**out.batch, "key": user_id, "events": events}
            yield stitched, user_id.encode(), avro.encode(record)
        for a in out.assignments:
            yield (
                identity_map,
                assignment_key(a.project, a.id_type, a.id_value),
                encode_assignment(a),
            )
        for x in out.merges:
            yield merges, x.loser.encode(), encode_merge(x)
        for c in out.conflicts:
            yield conflicts, assignment_key(c.project, c.id_type, c.id_value), encode_conflict(c)
