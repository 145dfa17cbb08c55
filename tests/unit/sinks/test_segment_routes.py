"""Segment, definition, subscription and delivery records → ClickHouse rows."""

from __future__ import annotations

from schemas.segment_records import (
    SegmentDefinitionRecord,
    Subscription,
    WebhookDelivery,
    encode_definition,
    encode_delivery,
    encode_segment_changes,
    encode_subscription,
)
from sinks.route import Record
from sinks.routes.segments import routes
from siyu.settings import Settings
from streams.domain.segments import SegmentChange

SETTINGS = Settings()


def _rows(topic: str, value: bytes) -> list[tuple[str, tuple[object, ...]]]:
    record = Record(SETTINGS.kafka.topic(topic), 0, 3, b"k", value, 1_764_000_000_000)
    (route,) = [r for r in routes(SETTINGS) if r.topic == record.topic]
    return [(t.name, row) for t, row in route.to_rows(record)]


def test_segment_changes_give_members_and_history() -> None:
    changes = [
        SegmentChange("u1", "vip", "enter", 10, "ev"),
        SegmentChange("u1", "old", "exit", 10, "ev"),
    ]
    rows = _rows("segments.changes", encode_segment_changes("p", "u1", changes))
    assert rows == [
        ("siyu.segment_changes", ("p", "vip", "u1", "enter", 10, "ev")),
        ("siyu.segment_members", ("p", "vip", "u1", 10, "ev", 0, 1_764_000_000_000_000_003)),
        ("siyu.segment_changes", ("p", "old", "u1", "exit", 10, "ev")),
        ("siyu.segment_members", ("p", "old", "u1", 10, "ev", 1, 1_764_000_000_000_000_003)),
    ]
    assert all(row[-1] < 2**64 for name, row in rows if name == "siyu.segment_members")  # type: ignore[operator]


def test_configuration_and_delivery_records() -> None:
    value = encode_definition(SegmentDefinitionRecord("p", "vip", "true", 5, "d"))
    ((table, row),) = _rows("segments.definitions", value)
    assert table == "siyu.segment_definitions"
    assert row[:6] == ("p", "vip", "true", "d", 0, 5)
    assert bytes.fromhex(str(row[6])) == value
    sub = Subscription("s1", "p", "http://x", "k", ("vip",), (), 7)
    ((table, row),) = _rows("webhooks.subscriptions", encode_subscription(sub))
    assert (table, row[:7]) == (
        "siyu.webhook_subscriptions",
        ("p", "s1", "http://x", ["vip"], [], 7, 0),
    )
    dead = WebhookDelivery("s1", "p", "u1", "e1", "segment", "vip", "enter", 9, 0, "dead_letter",
                           1.5, 99, "timeout", '{"a":1}')  # fmt: skip
    rows = _rows("webhooks.deliveries", encode_delivery(dead))
    assert [t for t, _ in rows] == ["siyu.webhook_deliveries", "siyu.webhook_dead_letters"]
    assert rows[1][1] == ("p", "s1", "u1", "e1", "timeout", '{"a":1}', 99)
    ok = WebhookDelivery(
        "s1", "p", "u1", "e1", "segment", "vip", "enter", 1, 200, "delivered", 1.0, 9
    )
    assert [t for t, _ in _rows("webhooks.deliveries", encode_delivery(ok))] == [
        "siyu.webhook_deliveries"
    ]
