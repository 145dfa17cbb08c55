"""events.stitched → siyu.events (and item events → siyu.items); events.deadletter →
siyu.dead_letters."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from schemas.codec import codec
from schemas.item_records import ITEM_TYPES, encode_item, item_state_of
from schemas.records import SHARER_USER, decode_dead_letter
from sinks.route import Record, Route, Row, TableSpec
from siyu.settings import Settings

__all__ = ["DEAD_LETTERS", "EVENTS", "ITEMS", "dead_letter_rows", "event_rows", "routes"]

EVENTS = TableSpec(
    "siyu.events",
    (
        "project",
        "event_id",
        "type",
        "event",
        "time",
        "client_time",
        "received_at",
        "sent_at",
        "user_id",
        "platform",
        "identities",
        "properties",
        "context",
        "lib_name",
        "lib_version",
        "ip",
        "user_agent",
        "source",
        "warnings",
        "enrichment",
        "entry",
    ),
)
ITEMS = TableSpec(
    "siyu.items",
    (
        "project",
        "item_type",
        "item_id",
        "properties",
        "updated_at",
        "event_id",
        "deleted",
        "version",
        "record",
    ),
)
DEAD_LETTERS = TableSpec(
    "siyu.dead_letters",
    (
        "project",
        "dl_id",
        "received_at",
        "route",
        "reason",
        "event_index",
        "event_id",
        "payload",
        "ip",
    ),
)


def _stored_entry(entry: dict[str, str]) -> dict[str, str]:
    """The entry fields the collector derived (the link path's sharer mark is not one)."""
    if SHARER_USER not in entry:
        return entry
    return {k: v for k, v in entry.items() if k != SHARER_USER}


def event_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    """Rows straight from the Avro record: properties and context stay the JSON text the
    collector wrote (no parse and re-serialize on the sink's hot path)."""
    _require_value(record)
    b = codec("event_batch").decode(record.value or b"")
    project, received_at, sent_at = b["project"], b["received_at"], b["sent_at"]
    ip, user_agent, source = b["ip"], b["user_agent"], b["source"]
    for e in b["events"]:
        yield (
            EVENTS,
            (
                project,
                e["event_id"],
                e["type"],
                e["event"],
                e["time"],
                e["client_time"],
                received_at,
                sent_at,
                e["user_id"] or "",
                e["platform"],
                e["identities"],
                e["properties"],
                e["context"],
                e["lib_name"],
                e["lib_version"],
                ip,
                user_agent,
                source,
                e["warnings"],
                e["enrichment"],
                _stored_entry(e["entry"]),
            ),
        )
        if e["type"] in ITEM_TYPES:
            yield from _item_rows(project, e)


def _item_rows(project: str, e: dict[str, Any]) -> Iterator[tuple[TableSpec, Row]]:
    """The catalogue row of one item event (the collector checked ``context.item``); the
    Avro record is kept too, to republish ``items.catalogue`` after a broker restart."""
    item = item_state_of(project, e)
    yield (
        ITEMS,
        (
            project,
            item.item_type,
            item.item_id,
            "{}" if item.deleted else e["properties"],
            item.updated_at,
            item.event_id,
            1 if item.deleted else 0,
            item.version,
            encode_item(item).hex(),
        ),
    )


def dead_letter_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    _require_value(record)
    dl = decode_dead_letter(record.value or b"")
    dl_id = hashlib.blake2b(
        b"%d\x00%d\x00%s\x00%s" % (dl.received_at, dl.index, dl.reason.encode(), dl.payload),
        digest_size=12,
    ).hexdigest()
    yield (
        DEAD_LETTERS,
        (
            dl.project,
            dl_id,
            dl.received_at,
            dl.route,
            dl.reason,
            dl.index,
            dl.event_id,
            dl.payload.decode("utf-8", "replace"),
            dl.ip,
        ),
    )


def _require_value(record: Record) -> None:
    if record.value is None:
        raise ValueError(f"empty record at {record.topic}/{record.partition}@{record.offset}")


def routes(settings: Settings) -> list[Route]:
    return [
        Route(topic=settings.kafka.topic("events.stitched"), to_rows=event_rows),
        Route(topic=settings.kafka.topic("events.deadletter"), to_rows=dead_letter_rows),
    ]
