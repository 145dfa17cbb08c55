"""Faust table changelogs → siyu.stream_state (last value per key, for seeding)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sinks.route import Record, Route, Row, TableSpec
from siyu.settings import Settings

__all__ = ["STREAM_STATE", "changelog_pattern", "routes", "state_rows"]

STREAM_STATE = TableSpec(
    "siyu.stream_state", ("state_table", "key", "partition", "value", "deleted", "version")
)


def changelog_pattern(app_id: str) -> str:
    return rf"^{re.escape(app_id)}-(?P<table>.+)-changelog$"


def table_of(topic: str, app_id: str) -> str:
    found = re.match(changelog_pattern(app_id), topic)
    if found is None:
        raise ValueError(f"{topic} is not a changelog of {app_id}")
    return found.group("table")


def _state_rows(app_id: str, record: Record) -> Iterator[tuple[TableSpec, Row]]:
    if record.key is None:
        return
    deleted = record.value is None
    # Version: offsets restart with a new broker, the record timestamp does not; the
    # offset breaks ties between records of the same millisecond.
    version = record.timestamp_ms * 1_000_000 + record.offset % 1_000_000
    yield (
        STREAM_STATE,
        (
            table_of(record.topic, app_id),
            record.key,
            record.partition,
            record.value or b"",
            1 if deleted else 0,
            version,
        ),
    )


def state_rows(app_id: str) -> Route:
    return Route(pattern=changelog_pattern(app_id), to_rows=lambda r: _state_rows(app_id, r))


def routes(settings: Settings) -> list[Route]:
    return [state_rows(settings.worker.app_id)]
