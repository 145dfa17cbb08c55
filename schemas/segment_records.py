"""Segment, property, subscription and webhook delivery records: domain ↔ Avro."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.codec import codec
from streams.domain.segments import SegmentChange

__all__ = [
    "SegmentChanges",
    "SegmentDefinitionRecord",
    "Subscription",
    "UserProperties",
    "WebhookDelivery",
    "decode_definition",
    "decode_delivery",
    "decode_properties",
    "decode_segment_changes",
    "decode_subscription",
    "encode_definition",
    "encode_delivery",
    "encode_properties",
    "encode_segment_changes",
    "encode_subscription",
]


@dataclass(frozen=True, slots=True)
class SegmentChanges:
    """One user's segment moves from one evaluation (one Kafka record)."""

    project: str
    user_id: str
    changes: tuple[SegmentChange, ...]


def encode_segment_changes(project: str, user_id: str, changes: Sequence[SegmentChange]) -> bytes:
    return codec("segment_change").encode(
        {
            "project": project,
            "user_id": user_id,
            "changes": [
                {"segment": c.segment, "change": c.change, "at": c.at, "cause": c.cause}
                for c in changes
            ],
        }
    )


def decode_segment_changes(data: bytes) -> SegmentChanges:
    d = codec("segment_change").decode(data)
    user: str = d["user_id"]
    return SegmentChanges(
        d["project"],
        user,
        tuple(
            SegmentChange(user, c["segment"], c["change"], c["at"], c["cause"])
            for c in d["changes"]
        ),
    )


@dataclass(frozen=True, slots=True)
class UserProperties:
    project: str
    user_id: str
    properties: dict[str, Any]
    at: int
    cause: str


def encode_properties(p: UserProperties) -> bytes:
    return codec("user_properties").encode(
        {
            "project": p.project,
            "user_id": p.user_id,
            "properties": orjson.dumps(p.properties).decode(),
            "at": p.at,
            "cause": p.cause,
        }
    )


def decode_properties(data: bytes) -> UserProperties:
    d = codec("user_properties").decode(data)
    return UserProperties(
        d["project"], d["user_id"], orjson.loads(d["properties"]), d["at"], d["cause"]
    )


@dataclass(frozen=True, slots=True)
class SegmentDefinitionRecord:
    project: str
    name: str
    expression: str
    updated_at: int
    description: str = ""
    deleted: bool = False

    @property
    def key(self) -> bytes:
        return f"{self.project}/{self.name}".encode()


def encode_definition(d: SegmentDefinitionRecord) -> bytes:
    return codec("segment_definition").encode(
        {
            "project": d.project,
            "name": d.name,
            "expression": d.expression,
            "description": d.description,
            "deleted": d.deleted,
            "updated_at": d.updated_at,
        }
    )


def decode_definition(data: bytes) -> SegmentDefinitionRecord:
    d = codec("segment_definition").decode(data)
    return SegmentDefinitionRecord(
        d["project"], d["name"], d["expression"], d["updated_at"], d["description"], d["deleted"]
    )


@dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook subscription: where to POST which changes of one project."""

    id: str
    project: str
    url: str
    secret: str
    segments: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    created_at: int = 0
    deleted: bool = False

    def public(self) -> dict[str, Any]:
        """What the API shows (never the secret)."""
        return {
            "id": self.id,
            "url": self.url,
            "segments": list(self.segments),
            "tags": list(self.tags),
            "created_at": self.created_at,
        }


def encode_subscription(s: Subscription) -> bytes:
    return codec("webhook_subscription").encode(
        {
            "id": s.id,
            "project": s.project,
            "url": s.url,
            "secret": s.secret,
            "segments": list(s.segments),
            "tags": list(s.tags),
            "created_at": s.created_at,
            "deleted": s.deleted,
        }
    )


def decode_subscription(data: bytes) -> Subscription:
    d = codec("webhook_subscription").decode(data)
    return Subscription(
        d["id"],
        d["project"],
        d["url"],
        d["secret"],
        tuple(d["segments"]),
        tuple(d["tags"]),
        d["created_at"],
        d["deleted"],
    )


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery attempt (see ``schemas/webhook_delivery.avsc``)."""

    subscription_id: str
    project: str
    user_id: str
    event_id: str
    kind: str
    name: str
    change: str
    attempt: int
    status: int
    outcome: str
    latency_ms: float
    at: int
    error: str = ""
    body: str = field(default="", repr=False)


_DELIVERY_FIELDS = (
    "subscription_id",
    "project",
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
    "body",
)


def encode_delivery(d: WebhookDelivery) -> bytes:
    return codec("webhook_delivery").encode({f: getattr(d, f) for f in _DELIVERY_FIELDS})


def decode_delivery(data: bytes) -> WebhookDelivery:
    d = codec("webhook_delivery").decode(data)
    return WebhookDelivery(**{f: d[f] for f in _DELIVERY_FIELDS})
