"""Tags into ClickHouse.

- ``<app_id>-user_profiles-changelog`` → ``siyu.user_tags`` (current tags per user) and,
  as for every table, ``siyu.stream_state`` (seeding);
- ``tags.changes`` → ``siyu.tag_changes`` (history).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import orjson

from schemas.tag_records import decode_tag_changes
from sinks.route import Record, Route, Row, TableSpec
from sinks.routes.segments import profile_property_rows
from sinks.routes.state import state_rows
from siyu.settings import Settings

__all__ = ["TAG_CHANGES", "USER_TAGS", "change_rows", "routes", "tag_text"]

USER_TAGS = TableSpec(
    "siyu.user_tags",
    ("project", "user_id", "tags", "tags_json", "updated_at", "deleted", "version"),
)
TAG_CHANGES = TableSpec(
    "siyu.tag_changes", ("project", "user_id", "tag", "old", "new", "at", "cause")
)
PROFILE_TABLE = "user_profiles"


def tag_text(value: object) -> str:
    """A tag value as ClickHouse text: booleans as true/false, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _profile_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    if record.key is None:
        return
    doc = orjson.loads(record.value) if record.value is not None else {}
    profile = doc.get("v") or {}
    deleted = record.value is None or bool(doc.get("r")) or not profile
    tags = profile.get("tags", {})
    version = record.timestamp_ms * 1_000_000 + record.offset % 1_000_000
    yield (
        USER_TAGS,
        (
            profile.get("project", ""),
            record.key.decode(),
            {} if deleted else {k: tag_text(v) for k, v in tags.items()},
            "{}" if deleted else orjson.dumps(tags).decode(),
            profile.get("updated_at") or record.timestamp_ms,
            1 if deleted else 0,
            version,
        ),
    )


def change_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    if record.value is None:
        raise ValueError(f"empty record at {record.topic}/{record.partition}@{record.offset}")
    batch = decode_tag_changes(record.value)
    for c in batch.changes:
        yield (
            TAG_CHANGES,
            (
                batch.project,
                c.user_id,
                c.tag,
                None if c.old is None else tag_text(c.old),
                None if c.new is None else tag_text(c.new),
                c.at,
                c.cause,
            ),
        )


def routes(settings: Settings) -> list[Route]:
    app_id = settings.worker.app_id
    state = state_rows(app_id)

    def profile_and_state(record: Record) -> Iterator[tuple[TableSpec, Row]]:
        yield from state.to_rows(record)
        yield from _profile_rows(record)
        yield from profile_property_rows(record)

    changelog = rf"^{re.escape(app_id)}-{PROFILE_TABLE}-changelog$"
    return [
        Route(pattern=changelog, to_rows=profile_and_state),
        Route(topic=settings.kafka.topic("tags.changes"), to_rows=change_rows),
    ]
