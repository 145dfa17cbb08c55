"""Properties, segments and webhooks into ClickHouse.

- ``<app_id>-user_profiles-changelog`` → ``siyu.user_properties`` (current);
- ``segments.changes`` → ``siyu.segment_members`` (current) and ``siyu.segment_changes``;
- ``segments.definitions`` → ``siyu.segment_definitions``;
- ``webhooks.subscriptions`` → ``siyu.webhook_subscriptions``;
- ``webhooks.deliveries`` → ``siyu.webhook_deliveries`` and, for dead letters,
  ``siyu.webhook_dead_letters``.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from schemas.segment_records import (
    decode_definition,
    decode_delivery,
    decode_segment_changes,
    decode_subscription,
)
from sinks.route import Record, Route, Row, TableSpec
from siyu.settings import Settings

__all__ = ["USER_PROPERTIES", "profile_property_rows", "routes"]

USER_PROPERTIES = TableSpec(
    "siyu.user_properties",
    ("project", "user_id", "properties", "properties_json", "updated_at", "deleted", "version"),
)
SEGMENT_MEMBERS = TableSpec(
    "siyu.segment_members",
    ("project", "segment", "user_id", "changed_at", "cause", "deleted", "version"),
)
SEGMENT_CHANGES = TableSpec(
    "siyu.segment_changes", ("project", "segment", "user_id", "change", "at", "cause")
)
DEFINITIONS = TableSpec(
    "siyu.segment_definitions",
    ("project", "name", "expression", "description", "deleted", "updated_at", "record", "version"),
)
SUBSCRIPTIONS = TableSpec(
    "siyu.webhook_subscriptions",
    ("project", "id", "url", "segments", "tags", "created_at", "deleted", "record", "version"),
)
DELIVERIES = TableSpec(
    "siyu.webhook_deliveries",
    (
        "project",
        "subscription_id",
        "user_id",
        "event_id",
        "kind",
        "name",
        "change",
        "attempt",
        "status",
        "outcome",
        "error",
        "latency_ms",
        "at",
    ),
)
DEAD_LETTERS = TableSpec(
    "siyu.webhook_dead_letters",
    ("project", "subscription_id", "user_id", "event_id", "reason", "body", "at"),
)


def _version(record: Record) -> int:
    # Offsets restart with a new broker, record timestamps do not.
    return record.timestamp_ms * 1_000_000 + record.offset % 1_000_000


def _value(record: Record) -> bytes:
    if record.value is None:
        raise ValueError(f"empty record at {record.topic}/{record.partition}@{record.offset}")
    return record.value


def profile_property_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    """A user_profiles changelog record → the user's current properties."""
    if record.key is None:
        return
    doc = orjson.loads(record.value) if record.value is not None else {}
    profile = doc.get("v") or {}
    values = (profile.get("properties") or {}).get("values", {})
    deleted = record.value is None or bool(doc.get("r")) or not profile
    yield (
        USER_PROPERTIES,
        (
            profile.get("project", ""),
            record.key.decode(),
            {} if deleted else {k: _text(v) for k, v in values.items()},
            "{}" if deleted else orjson.dumps(values).decode(),
            profile.get("updated_at") or record.timestamp_ms,
            1 if deleted else 0,
            _version(record),
        ),
    )


def _text(value: object) -> str:
    if isinstance(value, list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _segment_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    batch = decode_segment_changes(_value(record))
    for c in batch.changes:
        row = (batch.project, c.segment, c.user_id)
        yield SEGMENT_CHANGES, (*row, c.change, c.at, c.cause)
        exit_ = 1 if c.change == "exit" else 0
        yield SEGMENT_MEMBERS, (*row, c.at, c.cause, exit_, _version(record))


def _definition_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    d = decode_definition(_value(record))
    yield (
        DEFINITIONS,
        (
            d.project,
            d.name,
            d.expression,
            d.description,
            int(d.deleted),
            d.updated_at,
            _value(record).hex(),
            _version(record),
        ),
    )


def _subscription_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    s = decode_subscription(_value(record))
    yield (
        SUBSCRIPTIONS,
        (
            s.project,
            s.id,
            s.url,
            list(s.segments),
            list(s.tags),
            s.created_at,
            int(s.deleted),
            _value(record).hex(),
            _version(record),
        ),
    )


def _delivery_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    d = decode_delivery(_value(record))
    yield (
        DELIVERIES,
        (
            d.project,
            d.subscription_id,
            d.user_id,
            d.event_id,
            d.kind,
            d.name,
            d.change,
            d.attempt,
            d.status,
            d.outcome,
            d.error,
            d.latency_ms,
            d.at,
        ),
    )
    if d.outcome in ("dead_letter", "failed"):
        yield (
            DEAD_LETTERS,
            (d.project, d.subscription_id, d.user_id, d.event_id, d.error, d.body, d.at),
        )


def routes(settings: Settings) -> list[Route]:
    k = settings.kafka
    return [
        Route(topic=k.topic("segments.changes"), to_rows=_segment_rows),
        Route(topic=k.topic("segments.definitions"), to_rows=_definition_rows),
        Route(topic=k.topic("webhooks.subscriptions"), to_rows=_subscription_rows),
        Route(topic=k.topic("webhooks.deliveries"), to_rows=_delivery_rows),
    ]
