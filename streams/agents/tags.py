"""Real-time tags: events.stitched (and timer ticks) → user_profiles → tags.changes.

- ``tags`` agent: one step per events.stitched record (the events of one request of one
  user): fold them into the user's profile, evaluate every tag once, publish the changes
  as one ``tags.changes`` record, deliver referral credits to the inviters.
- ``tag_signals`` agent on ``tags.signals`` (keyed by user id, co-partitioned with the
  profiles): timer ticks (lifecycle, windows, time-based rules move with no event) and
  referral credits. Writing state from a stream, never from the timer itself, keeps every
  table write inside stream iteration, where Faust needs it.
- a timer per worker: reloads the definition file when it changes (a broken file is
  logged and the last good definitions stay), and sends a tick for each user whose
  ``due`` time has come. The schedule lives in memory and is rebuilt from the table after
  start-up and every rebalance.
- identity merges: the loser's profile moves to the survivor (streams/merging.py) and a
  tick right after publishes the merged tags and removes the loser's.
- user properties (``profile_*`` events) are kept in the same profile; each change is
  published on ``properties.changes``; an update with a wrong type is a dead letter.
- segments are evaluated with the tags; enter/exit records go to ``segments.changes``.
  When the definitions change, the timer sends a ``segments`` signal for every user the
  worker holds, so every user is re-evaluated at once (streams/agents/segment_defs.py).

Every write is idempotent per source record (origin, offset), and events are also
deduplicated by event id, so replays never double-count.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from schemas.records import DeadLetter, EventBatch, TrackEvent, encode_dead_letter
from schemas.segment_records import UserProperties, encode_properties, encode_segment_changes
from schemas.tag_records import (
    TagSignal,
    decode_tag_signal,
    encode_tag_changes,
    encode_tag_signal,
)
from streams import metrics
from streams.agents.items import LiveItems
from streams.agents.segment_defs import SegmentDefinitions
from streams.context import StreamContext
from streams.domain.profile import Credit
from streams.domain.profile_merge import merge
from streams.domain.properties import property_values
from streams.domain.segments import SegmentChange
from streams.domain.tag_definitions import TagChange
from streams.domain.tags import Evaluation, apply_events, credit_referral, tick
from streams.merging import follow_merges, register_merge_transfer
from streams.state import StateTable
from streams.tag_files import DefinitionError, DefinitionsWatcher
from streams.tag_schedule import DueSchedule
from streams.zones import DEFAULT_ZONE, project_offsets, utc_offset_s

__all__ = ["register"]

logger = logging.getLogger(__name__)

# A rule that fails is logged at most this often (it fails for every user alike).
_RULE_ERROR_LOG_S = 60.0
# Profiles decoded between yields to the event loop while rebuilding the schedule.
_RESCAN_CHUNK = 2000
# The two signals with no payload, encoded once.
_TICK = encode_tag_signal(TagSignal("tick"))
_SEGMENTS = encode_tag_signal(TagSignal("segments"))


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Profiles(StateTable):
    """The profile table; tells the scheduler when a merge changed a survivor."""

    def __init__(self, table: Any, on_merged: Callable[[str], None]) -> None:
        super().__init__(table)
        self._on_merged = on_merged

    def absorb(
        self,
        survivor: str,
        loser: str,
        loser_state: Any,
        loser_merged: list[str],
        merge: Callable[..., Any],
    ) -> bool:
        with_id = functools.partial(merge, survivor_id=survivor)
        applied = super().absorb(survivor, loser, loser_state, loser_merged, with_id)
        if applied:
            self._on_merged(survivor)
        return applied


class _Tags:
    """Shared state of the tag agents of one worker."""

    def __init__(self, ctx: StreamContext) -> None:
        self.ctx = ctx
        try:
            self.watcher = DefinitionsWatcher(ctx.settings.tags.file)
        except DefinitionError as exc:
            logger.critical("tag definitions unusable, worker not started: %s", exc)
            raise
        self.schedule = DueSchedule()
        base = ctx.table("user_profiles", help="tag profile per user id")
        self.profiles = _Profiles(base.table, lambda user: self.schedule.set(user, 1))
        self.changes = ctx.topic("tags.changes")
        self.signals = ctx.topic("tags.signals")
        self.segment_changes = ctx.topic("segments.changes")
        self.properties = ctx.topic("properties.changes")
        self.dead_letters = ctx.topic("events.deadletter")
        self.segments = SegmentDefinitions(ctx.settings)
        self.items = LiveItems(ctx.settings)
        self._rule_logged: dict[str, float] = {}

    def merge(self, survivor: Any, loser: Any, survivor_id: str = "") -> Any:
        return merge(self.watcher.current, survivor, loser, survivor_id=survivor_id)

    async def publish(self, result: Evaluation, project: str) -> None:
        p = result.profile
        by_user: dict[str, list[TagChange]] = {}
        for change in result.changes:
            by_user.setdefault(change.user_id, []).append(change)
        for user, changes in by_user.items():
            await self.changes.send(
                key=user.encode(), value=encode_tag_changes(project or p["project"], user, changes)
            )
        for credit in result.credits:
            signal = TagSignal("credit", project, credit.invitee, credit.at)
            await self.signals.send(key=credit.inviter.encode(), value=encode_tag_signal(signal))
        await self._publish_segments(result, project or p["project"])
        if p["uid"]:
            self.schedule.set(p["uid"], p["due"])
        metrics.EVENTS.labels(agent="tags_changes").inc(len(result.changes))
        if result.rule_errors:
            self._log_rule_errors(result.rule_errors)

    async def _publish_segments(self, result: Evaluation, project: str) -> None:
        p = result.profile
        moves: dict[str, list[SegmentChange]] = {}
        for move in result.segment_changes:
            moves.setdefault(move.user_id, []).append(move)
        for user, changes in moves.items():
            await self.segment_changes.send(
                key=user.encode(), value=encode_segment_changes(project, user, changes)
            )
        if result.properties_changed and p["uid"]:
            doc = UserProperties(
                project, p["uid"], property_values(p["properties"]), p["updated_at"], "update"
            )
            await self.properties.send(key=p["uid"].encode(), value=encode_properties(doc))
        for event, reason in result.rejected:
            letter = DeadLetter(
                project=project,
                received_at=p["updated_at"] or _now_ms(),
                route="properties",
                reason=reason,
                payload=_event_json(event),
                event_id=event.event_id,
            )
            await self.dead_letters.send(key=p["uid"].encode(), value=encode_dead_letter(letter))
        metrics.EVENTS.labels(agent="segments_changes").inc(len(result.segment_changes))
        metrics.EVENTS.labels(agent="properties_rejected").inc(len(result.rejected))

    async def reevaluate_all(self) -> int:
        """Ask for every held user to be re-evaluated against the current segments."""
        self.segments.mark_evaluated()
        n = 0
        for i, (key, raw) in enumerate(list(self.profiles.table.items())):
            doc = orjson.loads(raw)
            if doc.get("v") and not doc.get("r"):
                await self.signals.send(key=key, value=_SEGMENTS)
                n += 1
            if i % _RESCAN_CHUNK == _RESCAN_CHUNK - 1:
                await asyncio.sleep(0)
        logger.info("segment definitions changed: %d users to re-evaluate", n)
        return n

    def _log_rule_errors(self, errors: tuple[tuple[str, str], ...]) -> None:
        metrics.EVENTS.labels(agent="tags_rule_errors").inc(len(errors))
        now = time.monotonic()
        for rule, reason in errors:
            if now - self._rule_logged.get(rule, -_RULE_ERROR_LOG_S) >= _RULE_ERROR_LOG_S:
                self._rule_logged[rule] = now
                logger.warning("tag rule %s failed (tag left out): %s", rule, reason)

    async def rescan(self) -> int:
        """Rebuild the schedule from every profile this worker holds."""
        self.schedule.clear()
        n = 0
        for i, (key, raw) in enumerate(list(self.profiles.table.items())):
            doc = orjson.loads(raw)
            state = doc.get("v")
            if state and not doc.get("r") and state.get("due", 0) > 0:
                self.schedule.set(key.decode(), state["due"])
                n += 1
            if i % _RESCAN_CHUNK == _RESCAN_CHUNK - 1:
                await asyncio.sleep(0)
        logger.info("tag timers rebuilt: %d users scheduled", n)
        return n


def register(ctx: StreamContext) -> None:
    tags = _Tags(ctx)
    profiles = tags.profiles
    register_merge_transfer(ctx, profiles, tags.merge)
    # Calendar days (yesterday, 7-day windows, days since) are the project's days.
    offsets = {name: off * 1000 for name, off in project_offsets(ctx.settings).items()}
    fallback = utc_offset_s(DEFAULT_ZONE) * 1000
    zoned: dict[tuple[int, str], Any] = {}

    def defs_for(project: str) -> Any:
        current = tags.watcher.current
        key = (id(current), project)
        if key not in zoned:
            if len(zoned) > 64:
                zoned.clear()
            zoned[key] = tags.items.definitions(
                replace(current, utc_offset=offsets.get(project, fallback)), project
            )
        return zoned[key]

    async def apply(user_id: str, batch: EventBatch, origin: str, offset: int) -> None:
        now, defs = _now_ms(), defs_for(batch.project)
        out: list[Evaluation] = []
        step = functools.partial(
            _apply,
            defs,
            events=batch.events,
            now=now,
            user_id=user_id,
            project=batch.project,
            segments=tags.segments.current,
        )
        applied, _ = profiles.update(user_id, origin, offset, _recording(out, step))
        if not applied:
            metrics.EVENTS.labels(agent="tags_replay_skipped").inc(len(batch.events))
            return
        await tags.publish(out[0], batch.project)
        metrics.EVENTS.labels(agent="tags").inc(out[0].applied)

    routed = follow_merges(ctx, profiles, apply)

    read = ctx.stitched.reader()

    @ctx.app.agent(ctx.topic("events.stitched"), name="tags")
    async def tag_events(stream):  # type: ignore[no-untyped-def]
        # Content interests read the item catalogue: hold events until it is read whole.
        await tags.items.topic.caught_up.wait()
        async for event in stream.events():
            batch = read(event.message.partition, event.message.offset, event.value)
            await routed(batch.key, event.value, batch, batch.origin, batch.origin_offset)

    @ctx.app.agent(tags.signals, name="tag_signals")
    async def tag_signals(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            user, signal = event.key.decode(), decode_tag_signal(event.value)
            origin = f"{event.message.topic}/{event.message.partition}"
            current = profiles.get(user)
            project = (current or {}).get("project") or signal.project
            now, defs, segments = _now_ms(), defs_for(project), tags.segments.current
            if signal.kind == "segments":
                if current is None or profiles.redirect(user) is not None:
                    continue
                step: Callable[[Any], Evaluation] = functools.partial(
                    _tick, defs, now=now, cause="segments", segments=segments
                )
            elif signal.kind == "tick":
                if current is None or profiles.redirect(user) is not None:
                    continue
                if not 0 < current.get("due", 0) <= now:
                    continue  # rescheduled since (an event came): nothing due yet
                cause = "merge" if current.get("retired") or current["due"] == 1 else "timer"
                step = functools.partial(_tick, defs, now=now, cause=cause, segments=segments)
            else:
                credit = Credit(inviter=user, invitee=signal.invitee, at=signal.at)
                step = functools.partial(_credit, defs, credit=credit, now=now, segments=segments)
            out: list[Evaluation] = []
            applied, _ = profiles.update(user, origin, event.message.offset, _recording(out, step))
            if applied:
                await tags.publish(out[0], signal.project)
                metrics.EVENTS.labels(agent=f"tags_{signal.kind}").inc()

    @ctx.app.task  # type: ignore[untyped-decorator]
    async def follow_segment_definitions() -> None:
        await tags.segments.topic.run(asyncio.Event())

    @ctx.app.task  # type: ignore[untyped-decorator]
    async def follow_items() -> None:
        await tags.items.topic.run(asyncio.Event())

    state = {"assignment": frozenset(), "rescanned": 0.0}

    @ctx.app.timer(interval=ctx.settings.tags.tick_s)  # type: ignore[untyped-decorator]
    async def tag_timer() -> None:
        tags.watcher.poll()
        tags.segments.poll()
        app = ctx.app
        if getattr(app, "in_recovery", False) or getattr(app, "rebalancing", False):
            return
        if tags.segments.dirty:
            await tags.reevaluate_all()
        assignment = frozenset(app.assignor.assigned_actives())
        age = time.monotonic() - state["rescanned"]  # type: ignore[operator]
        if assignment != state["assignment"] or age >= ctx.settings.tags.rescan_s:
            state["assignment"] = assignment
            state["rescanned"] = time.monotonic()
            await tags.rescan()
        for user in tags.schedule.pop_due(_now_ms()):
            await tags.signals.send(key=user.encode(), value=_TICK)


def _tick(defs: Any, old: Any, *, now: int, cause: str, segments: Any) -> Evaluation:
    return tick(defs, old, now, cause=cause, segments=segments)


def _credit(defs: Any, old: Any, *, credit: Credit, now: int, segments: Any) -> Evaluation:
    return credit_referral(defs, old, credit, now, segments=segments)


def _apply(
    defs: Any, old: Any, *, events: Any, now: int, user_id: str, project: str, segments: Any
) -> Evaluation:
    return apply_events(
        defs,
        old,
        events,
        now,
        user_id=user_id,
        project=project,
        owned=True,
        segments=segments,
    )


def _event_json(event: TrackEvent) -> bytes:
    return orjson.dumps(
        {
            "event_id": event.event_id,
            "type": event.type,
            "event": event.event,
            "time": event.time,
            "platform": event.platform,
            "identities": dict(event.identities),
            "properties": dict(event.properties),
            "user_id": event.user_id,
        }
    )


def _recording(out: list[Evaluation], step: Callable[[Any], Evaluation]) -> Callable[[Any], Any]:
    """``step`` as a state update that also keeps its outputs in ``out``."""

    def run(old: Any) -> Any:
        result = step(old)
        out.append(result)
        return result.profile

    return run
