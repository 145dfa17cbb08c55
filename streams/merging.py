"""Move per-user state to the surviving user when the identity graph merges two users.

``identity.merges`` is keyed by the losing user id, so the ``merge_out`` agent runs on
the partition holding the loser's state in every per-user table (all of them are keyed
by user id and co-partitioned with ``events.stitched``). It marks the loser as merged
and sends its state, keyed by the survivor, to ``state.transfer``. The ``merge_in``
agent, on the survivor's partition, applies the table's pure ``merge(survivor_state,
loser_state)`` once per (survivor, loser): replays and re-sent transfers are no-ops.

A record of the loser still in flight when the merge is decided (stitched against the
graph of just before it, on another ``events.raw`` partition) may reach a table after
the loser was marked merged. :func:`follow_merges` routes it: the agent's apply step runs
for the user the key redirects to, through ``state.transfer`` (keyed by that user, so on
its partition), with an origin of its own per loser so replays of it are skipped too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from schemas.merge_records import (
    LateRecord,
    MergedState,
    decode_merge,
    decode_transfer,
    encode_transfer,
)
from schemas.records import EventBatch, decode_batch
from streams import metrics
from streams.context import StreamContext
from streams.state import StateTable

__all__ = ["register_merge_transfer"]

logger = logging.getLogger(__name__)

MergeFn = Callable[[Any, Any], Any]
AfterMerge = Callable[[str, Any], Awaitable[None]]
Apply = Callable[[str, EventBatch, str, int], Awaitable[None]]
"""``apply(user_id, batch, origin, offset)``: an agent's step for one stitched record."""
Routed = Callable[[str, bytes, EventBatch, str, int], Awaitable[None]]
# Per table: what to do once a loser's state is merged in (send outputs only the union
# reaches, e.g. funnel steps); runs inside merge_in, on the survivor's partition.
_AFTER: dict[str, AfterMerge] = {}
# Per table: its agent's step, routed (see follow_merges).
_LATE: dict[str, Routed] = {}


def register_merge_transfer(
    ctx: StreamContext, table: StateTable, merge: MergeFn, *, after: AfterMerge | None = None
) -> None:
    """Make ``table`` follow identity merges using the pure ``merge`` function.

    ``after(survivor, merged_state)`` runs once the merge is applied.
    """
    first = not ctx.mergeables
    ctx.mergeables[table.name] = (table, merge)
    if after is not None:
        _AFTER[table.name] = after
    if first:
        _register_agents(ctx)


def follow_merges(ctx: StreamContext, table: StateTable, apply: Apply) -> Routed:
    """``apply``, or, for a user merged away, ``apply`` for the user it now redirects to.

    The returned ``routed(user_id, record, batch, origin, offset)`` takes the record's
    bytes (forwarded as they are) and its decoded ``batch``.

    The table must be registered with :func:`register_merge_transfer`.
    """
    transfer = ctx.topic("state.transfer")

    async def routed(
        user_id: str, record: bytes, batch: EventBatch, origin: str, offset: int
    ) -> None:
        target = table.redirect(user_id)
        if target is None:
            await apply(user_id, batch, origin, offset)
            return
        late = LateRecord(table.name, record, f"{user_id}>{origin}", offset)
        await transfer.send(key=target.encode(), value=encode_transfer(late))
        metrics.EVENTS.labels(agent=f"{table.name}_late_forwarded").inc()

    _LATE[table.name] = routed
    return routed


def _register_agents(ctx: StreamContext) -> None:
    transfer = ctx.topic("state.transfer")

    @ctx.app.agent(ctx.topic("identity.merges"), name="merge_out")
    async def merge_out(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            m = decode_merge(event.value)
            for name, (table, _) in ctx.mergeables.items():
                moved = table.mark_merged(m.loser, m.survivor)
                if moved is None:
                    continue
                state, merged_from = moved
                moving = MergedState(name, m.loser, tuple(merged_from), state)
                await transfer.send(key=m.survivor.encode(), value=encode_transfer(moving))

    @ctx.app.agent(transfer, name="merge_in")
    async def merge_in(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            t = decode_transfer(event.value)
            user = event.key.decode()
            if isinstance(t, LateRecord):
                await _LATE[t.table](user, t.record, decode_batch(t.record), t.origin, t.offset)
                continue
            table, merge = ctx.mergeables[t.table]
            applied = table.absorb(user, t.loser, t.state, list(t.merged_from), merge)
            outcome = "merged" if applied else "merge_replay_skipped"
            hook = _AFTER.get(t.table)
            if applied and hook is not None:
                await hook(user, table.get(user))
            metrics.EVENTS.labels(agent=f"{t.table}_{outcome}").inc()
