"""Demo analytics data straight into ClickHouse, without a running pipeline.

The same synthetic traffic as ``siyu demo`` (:func:`siyu.demo.demo_events`), plus the
marketing events the analytics views read (A/B exposures, pushes per campaign and
community group, app downloads, material ids), each user given a fixed user id, and the
funnel rows the stream would have produced, computed with the same domain functions.
Dashboards' tests and the analytics benchmark load it; ``copies`` > 1 multiplies it
inside ClickHouse (fresh user and event ids per copy) for big volumes.
"""

from __future__ import annotations

# ruff: noqa: S608 - the copy statements use fixed column lists and a numeric suffix
import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.records import TrackEvent
from sinks.demo_wechat import DEMO_CODES, decorate_wechat, quiet_group_events
from sinks.routes.funnels import FISSION_EDGES, FUNNEL_STEPS
from sinks.routes.tags import USER_TAGS, tag_text
from sinks.writer import ClickHouseWriter
from siyu.demo import demo_events
from streams.domain import funnel_state as fs
from streams.domain import tags as tag_engine
from streams.domain.fission import FissionSignal, share_of
from streams.domain.funnel_defs import FunnelSet
from streams.tag_files import load_definitions

__all__ = ["DemoData", "build_demo", "load_demo"]

_EVENT_COLUMNS = (
    "project", "event_id", "type", "event", "time", "received_at", "user_id", "platform",
    "identities", "properties", "context",
)  # fmt: skip
_EPOCH = dt.date(1970, 1, 1)
_CAMPAIGNS = ("double11", "new_member", "flash_sale")
_GROUPS = ("g-mums", "g-tea-lovers", "g-vip", "g-quiet")


_DEAD_LETTER_COLUMNS = (
    "project",
    "dl_id",
    "received_at",
    "route",
    "reason",
    "event_index",
    "event_id",
    "payload",
    "ip",
)
_REASONS = (
    "missing identities",
    "unknown platform 'tv'",
    "event name too long",
    "body is not JSON",
)


@dataclass
class DemoData:
    events: list[tuple[Any, ...]] = field(default_factory=list)
    dead_letters: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    edges: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    """siyu.user_tags rows: every user's tags at the end, from the tag engine's rules."""


def _marketing(rng: random.Random, batches: list[list[dict[str, Any]]]) -> None:
    """Decorate one user's demo events with the fields and events marketing views read."""
    events = [e for b in batches for e in b]
    if not events:
        return
    base = events[0]
    if rng.random() < 0.4:
        variant = rng.choice(("A", "B"))
        for e in events:
            if e["event"] == "view_product":
                e["properties"] = {
                    **e["properties"],
                    "experiment": "checkout_v2",
                    "variant": variant,
                }
    if rng.random() < 0.3:
        base["context"] = {**base["context"], "material_id": f"poster-{rng.randint(1, 4)}"}
    if rng.random() < 0.5:
        props = {"campaign": rng.choice(_CAMPAIGNS), "group_id": rng.choice(_GROUPS)}
        t = base["time"] - 600_000
        extra = [{**base, "event_id": base["event_id"] + "-push", "event": "push_send", "time": t,
                  "properties": props, "context": {}}]  # fmt: skip
        if rng.random() < 0.6:
            extra.append({**extra[0], "event_id": base["event_id"] + "-open", "event": "push_open",
                          "time": t + 30_000})  # fmt: skip
            if rng.random() < 0.3:
                extra.append({**extra[0], "event_id": base["event_id"] + "-app",
                              "event": "app_download", "time": t + 60_000})  # fmt: skip
        batches.insert(0, extra)


def _track(d: dict[str, Any], user_id: str) -> TrackEvent:
    return TrackEvent(
        event_id=d["event_id"],
        type=d["type"],
        event=d["event"],
        time=d["time"],
        platform=d["platform"],
        identities=d["identities"],
        properties=d["properties"],
        context=d["context"],
        user_id=user_id,
    )


def build_demo(
    defs: FunnelSet, *, users: int, days: int, seed: int, now_ms: int, project: str = "default"
) -> DemoData:
    """Events, funnel steps and share edges of the demo traffic, as table rows."""
    rng = random.Random(seed + 1)  # noqa: S311 - synthetic traffic, not cryptography
    per_user = demo_events(users=users, days=days, seed=seed, now_ms=now_ms)
    wechat_rng = random.Random(seed + 2)  # noqa: S311 - synthetic traffic
    for n, batches in enumerate(per_user):
        _marketing(rng, batches)
        decorate_wechat(wechat_rng, n, batches, now_ms)
    per_user.append([quiet_group_events(now_ms)])
    owners: dict[str, str] = {}
    timeline: list[tuple[int, str, list[TrackEvent]]] = []
    data = DemoData()
    for n, batches in enumerate(per_user):
        user_id = f"demo-{seed}-{n}"
        for batch in batches:
            for d in batch:
                for value in d["identities"].values():
                    owners.setdefault(value, user_id)
            tracked = [_track(d, user_id) for d in batch]
            timeline.append((min(e.time for e in tracked), user_id, tracked))
            data.events.extend(_event_row(project, e) for e in tracked)
    timeline.sort(key=lambda x: x[0])
    profiles: dict[str, Any] = {}
    tag_defs = load_definitions()
    for at_ms, user_id, tracked in timeline:
        profiles[user_id] = tag_engine.apply_events(
            tag_defs, profiles.get(user_id), tracked, at_ms, user_id=user_id, project=project
        ).profile
    updated = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    for user_id, profile in sorted(profiles.items()):
        tags = tag_engine.tick(tag_defs, profile, now_ms).profile["tags"]
        data.tags.append(
            (project, user_id, {k: tag_text(v) for k, v in tags.items()},
             orjson.dumps(tags).decode(), updated, 0, 1)
        )  # fmt: skip
    for i in range(max(1, users // 50)):
        at = dt.datetime.fromtimestamp((now_ms - rng.randint(0, days * 86_400_000)) / 1000, dt.UTC)
        data.dead_letters.append(
            (project, f"demo-dl-{seed}-{i}", at, "/v1/batch", rng.choice(_REASONS), 0, "", "{}", "")
        )
    user_docs: dict[str, Any] = {}
    sharer_docs: dict[str, Any] = {}
    for _, user_id, tracked in timeline:
        shared = {s[0]: owners[s[0]] for e in tracked if (s := share_of(e)) and s[0] in owners}
        user_docs[user_id], steps, signals = fs.apply_events(
            defs, user_docs.get(user_id), user_id, tracked, shared
        )
        data.steps.extend(_step_rows(project, user_id, steps))
        pending: list[FissionSignal] = list(signals)
        while pending:
            sig = pending.pop(0)
            sharer_docs[sig.to], out = fs.apply_signals(
                defs, sharer_docs.get(sig.to), sig.to, [sig]
            )
            pending.extend(out.signals)
            data.steps.extend(_step_rows(project, sig.to, out.completions))
            data.edges.extend(
                (project, e.sharer, e.invitee, e.step, e.step_name,
                 dt.datetime.fromtimestamp(e.time, dt.UTC), e.depth, e.root, e.campaign)
                for e in out.edges
            )  # fmt: skip
    return data


def _event_row(project: str, e: TrackEvent) -> tuple[Any, ...]:
    at = dt.datetime.fromtimestamp(e.time / 1000, dt.UTC)
    return (
        project, e.event_id, e.type, e.event, at, at, e.user_id or "", e.platform,
        dict(e.identities), orjson.dumps(e.properties).decode(), orjson.dumps(e.context).decode(),
    )  # fmt: skip


def _step_rows(project: str, user_id: str, steps: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    for s in steps:
        yield (
            project, s.funnel, s.dimension, s.value, _EPOCH + dt.timedelta(days=s.day), s.step,
            s.step_name, user_id, dt.datetime.fromtimestamp(s.at, dt.UTC),
        )  # fmt: skip


def load_demo(writer: ClickHouseWriter, data: DemoData, *, copies: int = 1) -> int:
    """Insert the demo rows (``copies`` times, copies made inside ClickHouse); return events."""
    writer.insert("siyu.events", _EVENT_COLUMNS, data.events)
    writer.insert(FUNNEL_STEPS.name, FUNNEL_STEPS.columns, data.steps)
    writer.insert("siyu.dead_letters", _DEAD_LETTER_COLUMNS, data.dead_letters)
    writer.insert(FISSION_EDGES.name, FISSION_EDGES.columns, data.edges)
    writer.insert(USER_TAGS.name, USER_TAGS.columns, data.tags)
    writer.insert(
        "siyu.qr_codes",
        ("qr_id", "name", "channel", "material", "kind", "version"),
        [(*code, 1) for code in DEMO_CODES],
    )
    cols = ", ".join(_EVENT_COLUMNS)
    for copy in range(1, copies):
        suffix = f"'-c{copy}'"
        writer.command(
            f"INSERT INTO siyu.events ({cols}) SELECT project, concat(event_id, {suffix}), type, "
            f"event, time, received_at, concat(user_id, {suffix}), platform, identities, "
            f"properties, context FROM siyu.events WHERE NOT event_id LIKE '%-c%'"
        )
        steps = ", ".join(FUNNEL_STEPS.columns)
        writer.command(
            f"INSERT INTO siyu.funnel_steps ({steps}) SELECT project, funnel, dimension, value, "
            f"day, step, step_name, concat(user_id, {suffix}), at FROM siyu.funnel_steps "
            f"WHERE NOT user_id LIKE '%-c%'"
        )
    return len(data.events) * copies
