"""Typed records and their conversion at the edge: Avro dict in, domain record out.

Domain code (``streams/domain``) only sees domain records (:class:`TrackEvent` is defined
there and re-exported here), never the Avro dicts; the domain never imports this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from schemas.codec import codec
from streams.domain.events import EVENT_TYPES, EventType, TrackEvent

__all__ = [
    "EVENT_TYPES",
    "SHARER_USER",
    "DeadLetter",
    "EventBatch",
    "EventType",
    "TrackEvent",
    "decode_batch",
    "decode_dead_letter",
    "encode_batch",
    "encode_dead_letter",
    "event_from_avro",
]

SHARER_USER = "sharer_user"
"""Key of an event's ``entry`` on ``events.stitched``: the user id the link agent
resolved the event's sharer to, with the graph as it stood when the event was linked
(the funnels' graph copy may not show that sharer yet)."""


@dataclass(frozen=True, slots=True)
class EventBatch:
    """The events of one request that share a partition key: one Kafka record."""

    project: str
    key: str
    received_at: int
    events: tuple[TrackEvent, ...]
    sent_at: int | None = None
    ip: str = ""
    user_agent: str = ""
    source: str = "native"
    origin: str = ""
    origin_offset: int = -1


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected event or an unreadable body, with the reason and the original bytes."""

    project: str
    received_at: int
    route: str
    reason: str
    payload: bytes
    index: int = -1
    event_id: str = ""
    ip: str = ""


def _event_to_avro(e: TrackEvent) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "type": e.type,
        "event": e.event,
        "time": e.time,
        "client_time": e.client_time,
        "platform": e.platform,
        "identities": dict(e.identities),
        "properties": orjson.dumps(e.properties).decode(),
        "context": orjson.dumps(e.context).decode(),
        "lib_name": e.lib_name,
        "lib_version": e.lib_version,
        "user_id": e.user_id,
        "warnings": list(e.warnings),
        "enrichment": dict(e.enrichment),
        "entry": dict(e.entry),
    }


def event_from_avro(d: dict[str, Any]) -> TrackEvent:
    """One event of an ``event_batch`` record (as a dict) as a :class:`TrackEvent`."""
    return TrackEvent(
        event_id=d["event_id"],
        type=d["type"],
        event=d["event"],
        time=d["time"],
        client_time=d["client_time"],
        platform=d["platform"],
        identities=d["identities"],
        properties=orjson.loads(d["properties"]),
        context=orjson.loads(d["context"]),
        lib_name=d["lib_name"],
        lib_version=d["lib_version"],
        user_id=d["user_id"],
        warnings=tuple(d["warnings"]),
        enrichment=d["enrichment"],
        entry=d["entry"],
    )


def encode_batch(batch: EventBatch) -> bytes:
    return codec("event_batch").encode(
        {
            "project": batch.project,
            "key": batch.key,
            "received_at": batch.received_at,
            "sent_at": batch.sent_at,
            "ip": batch.ip,
            "user_agent": batch.user_agent,
            "source": batch.source,
            "origin": batch.origin,
            "origin_offset": batch.origin_offset,
            "events": [_event_to_avro(e) for e in batch.events],
        }
    )


def decode_batch(data: bytes) -> EventBatch:
    d = codec("event_batch").decode(data)
    return EventBatch(
        project=d["project"],
        key=d["key"],
        received_at=d["received_at"],
        sent_at=d["sent_at"],
        ip=d["ip"],
        user_agent=d["user_agent"],
        source=d["source"],
        origin=d["origin"],
        origin_offset=d["origin_offset"],
        events=tuple(event_from_avro(e) for e in d["events"]),
    )


def encode_dead_letter(dl: DeadLetter) -> bytes:
    return codec("dead_letter").encode(
        {
            "project": dl.project,
            "received_at": dl.received_at,
            "route": dl.route,
            "reason": dl.reason,
            "index": dl.index,
            "event_id": dl.event_id,
            "payload": dl.payload,
            "ip": dl.ip,
        }
    )


def decode_dead_letter(data: bytes) -> DeadLetter:
    d = codec("dead_letter").decode(data)
    return DeadLetter(**d)
