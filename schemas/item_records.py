"""Item catalogue records (``items.catalogue``): item events ↔ Avro ↔ domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from schemas.codec import codec
from streams.domain.items import ItemState

__all__ = ["ITEM_TYPES", "decode_item", "encode_item", "item_key", "item_state_of"]

ITEM_TYPES = frozenset({"item_set", "item_delete"})
"""Event types that change the item catalogue."""


def item_state_of(project: str, event: Mapping[str, Any]) -> ItemState:
    """The catalogue state one item event (an ``event_batch`` event, as decoded) leaves.

    The collector checked ``context.item`` (type and id, non-empty). Ordered by the
    sender's own clock: the stored time is corrected per request by that request's
    arrival, and two requests sent a millisecond apart may arrive swapped.
    """
    item = orjson.loads(event["context"]).get("item") or {}
    deleted = event["type"] == "item_delete"
    time = int(event["time"])
    client_time = event["client_time"]
    sent = time if client_time is None else int(client_time)
    return ItemState(
        project=project,
        item_type=str(item.get("type", "")),
        item_id=str(item.get("id", "")),
        properties={} if deleted else orjson.loads(event["properties"]),
        deleted=deleted,
        # The latest event wins; within one millisecond a delete wins.
        version=sent * 2 + deleted,
        updated_at=time,
        event_id=str(event["event_id"]),
    )


def item_key(item: ItemState) -> bytes:
    return f"{item.project}/{item.item_type}/{item.item_id}".encode()


def encode_item(item: ItemState) -> bytes:
    return codec("item_state").encode(
        {
            "project": item.project,
            "item_type": item.item_type,
            "item_id": item.item_id,
            "properties": orjson.dumps(dict(item.properties)).decode(),
            "deleted": item.deleted,
            "version": item.version,
            "updated_at": item.updated_at,
            "event_id": item.event_id,
        }
    )


def decode_item(data: bytes) -> ItemState:
    d = codec("item_state").decode(data)
    properties = orjson.loads(d["properties"])
    return ItemState(
        project=d["project"],
        item_type=d["item_type"],
        item_id=d["item_id"],
        properties=properties if isinstance(properties, dict) else {},
        deleted=d["deleted"],
        version=d["version"],
        updated_at=d["updated_at"],
        event_id=d["event_id"],
    )
