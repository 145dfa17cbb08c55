"""Item events (Sensors item_set / item_delete) also become siyu.items catalogue rows."""

from __future__ import annotations

import orjson

from collectors.limits import Limits
from collectors.sensors import parse_sensors
from schemas.item_records import decode_item
from schemas.records import EventBatch, encode_batch
from sinks.route import Record
from sinks.routes.events import EVENTS, ITEMS, event_rows
from streams.domain.items import ItemState

NOW = 1_795_000_000_000


def _record(events: list[dict[str, object]]) -> Record:
    body = orjson.dumps(events)
    parsed = parse_sensors({}, body, received_at=NOW, limits=Limits())
    assert not parsed.rejections, parsed.rejections
    batch = EventBatch(
        project="p", key="k", received_at=NOW, events=tuple(parsed.events), source="sensors"
    )
    return Record("siyu.events.stitched", 0, 1, b"k", encode_batch(batch), NOW)


def test_item_set_and_delete_become_catalogue_rows_and_stay_events() -> None:
    record = _record(
        [
            {
                "type": "item_set",
                "item_type": "article",
                "item_id": "a-101",
                "properties": {"title": "跑步入门🏃", "content_tags": ["running", "shoes"]},
                "time": NOW - 2000,
                "lib": {"$lib": "js"},
            },
            {"type": "item_delete", "item_type": "article", "item_id": "a-7", "time": NOW - 1000},
            {"type": "track", "event": "view_content", "distinct_id": "d1", "time": NOW},
        ]
    )
    rows = list(event_rows(record))
    assert [table for table, _ in rows].count(EVENTS) == 3
    items = [row for table, row in rows if table is ITEMS]
    assert len(items) == 2
    project, item_type, item_id, properties, updated_at, event_id, deleted, version, record = items[
        0
    ]
    assert (project, item_type, item_id, deleted) == ("p", "article", "a-101", 0)
    assert orjson.loads(str(properties)) == {
        "title": "跑步入门🏃",
        "content_tags": ["running", "shoes"],
    }
    assert updated_at == NOW - 2000
    assert version == 2 * (NOW - 2000)
    assert str(event_id).startswith("sa-")
    assert items[1][1:3] == ("article", "a-7")
    assert items[1][3] == "{}"
    assert items[1][6] == 1
    assert items[1][7] == 2 * (NOW - 1000) + 1
    # The items.catalogue record kept beside the row is the same state.
    assert decode_item(bytes.fromhex(str(record))) == ItemState(
        project="p",
        item_type="article",
        item_id="a-101",
        properties={"title": "跑步入门🏃", "content_tags": ["running", "shoes"]},
        deleted=False,
        version=2 * (NOW - 2000),
        updated_at=NOW - 2000,
        event_id=str(event_id),
    )
    gone = decode_item(bytes.fromhex(str(items[1][8])))
    assert (gone.item_id, gone.deleted, gone.properties) == ("a-7", True, {})


def test_the_catalogue_orders_by_the_senders_clock_not_by_arrival() -> None:
    item = {"item_type": "article", "item_id": "a-9", "lib": {"$lib": "js"}}
    # Sent one after the other (set, then delete); the delete's request arrived first.
    set_first = {"type": "item_set", **item, "time": NOW - 9, "_flush_time": NOW - 9}
    delete_next = {"type": "item_delete", **item, "time": NOW - 8, "_flush_time": NOW - 8}
    versions = {}
    for event, received_at in ((delete_next, NOW), (set_first, NOW + 50)):
        parsed = parse_sensors({}, orjson.dumps([event]), received_at=received_at, limits=Limits())
        batch = EventBatch(
            project="p", key="k", received_at=received_at, events=tuple(parsed.events)
        )
        record = Record("siyu.events.stitched", 0, 1, b"k", encode_batch(batch), received_at)
        [(_, row)] = [(t, r) for t, r in event_rows(record) if t is ITEMS]
        versions[event["type"]] = int(str(row[7]))
    assert versions["item_delete"] > versions["item_set"]
