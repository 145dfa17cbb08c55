"""identity.map → siyu.identity_map; identity.merges → siyu.identity_merges;
identity.conflicts → siyu.identity_conflicts."""

from __future__ import annotations

from collections.abc import Iterator

from schemas.identity_records import decode_assignment, decode_conflict
from schemas.merge_records import decode_merge
from sinks.route import Record, Route, Row, TableSpec
from siyu.settings import Settings

__all__ = [
    "IDENTITY_CONFLICTS",
    "IDENTITY_MAP",
    "IDENTITY_MERGES",
    "assignment_rows",
    "conflict_rows",
    "merge_rows",
    "routes",
]

IDENTITY_MAP = TableSpec(
    "siyu.identity_map",
    ("project", "id_type", "id_value", "user_id", "version", "deleted", "time", "event_id"),
)
IDENTITY_MERGES = TableSpec(
    "siyu.identity_merges", ("project", "loser", "survivor", "time", "event_id", "reason")
)
IDENTITY_CONFLICTS = TableSpec(
    "siyu.identity_conflicts",
    ("project", "event_id", "time", "id_type", "id_value", "user_id", "other_user_id", "reason"),
)


def _value(record: Record) -> bytes:
    if record.value is None:
        raise ValueError(f"empty record at {record.topic}/{record.partition}@{record.offset}")
    return record.value


def assignment_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    a = decode_assignment(_value(record))
    unbound = a.user_id is None
    yield (
        IDENTITY_MAP,
        (
            a.project,
            a.id_type,
            a.id_value,
            a.user_id or "",
            a.version,
            1 if unbound else 0,
            a.time,
            a.event_id,
        ),
    )


def merge_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    m = decode_merge(_value(record))
    yield IDENTITY_MERGES, (m.project, m.loser, m.survivor, m.time, m.event_id, m.reason)


def conflict_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    c = decode_conflict(_value(record))
    yield (
        IDENTITY_CONFLICTS,
        (
            c.project,
            c.event_id,
            c.time,
            c.id_type,
            c.id_value,
            c.user_id,
            c.other_user_id,
            c.reason,
        ),
    )


def routes(settings: Settings) -> list[Route]:
    topic = settings.kafka.topic
    return [
        Route(topic=topic("identity.map"), to_rows=assignment_rows),
        Route(topic=topic("identity.merges"), to_rows=merge_rows),
        Route(topic=topic("identity.conflicts"), to_rows=conflict_rows),
    ]
