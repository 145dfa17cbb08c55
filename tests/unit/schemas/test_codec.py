from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import pytest

from schemas.codec import Codec, codec
from schemas.exceptions import SchemaError
from schemas.records import EventBatch, TrackEvent, decode_batch, encode_batch

HISTORY = Path(__file__).parents[3] / "schemas" / "history" / "event_batch.v1.avsc"


def _batch() -> EventBatch:
    return EventBatch(
        project="default",
        key="anonymous_id=a1",
        received_at=1_764_000_000_500,
        sent_at=1_764_000_000_400,
        ip="10.0.0.1",
        user_agent="ua",
        events=(
            TrackEvent(
                event_id="e1",
                type="track",
                event="view_product",
                time=1_764_000_000_000,
                client_time=1_764_000_000_000,
                platform="miniprogram",
                identities={"anonymous_id": "a1", "wx_openid:wx1": "o1"},
                properties={"price": 12.5, "tags": ["a", "b"], "nested": {"x": 1}},
                context={"scene": 1007, "share": {"sharer": "u9", "depth": 1}},
                warnings=("time_missing",),
                enrichment={"os": "iOS"},
                entry={"qr": "q1", "utm_source": "wx"},
            ),
        ),
    )


def test_batch_round_trip_keeps_every_field() -> None:
    batch = _batch()
    assert decode_batch(encode_batch(batch)) == batch


def test_record_written_with_v1_is_read_with_current_schema() -> None:
    v1 = fastavro.parse_schema(json.loads(HISTORY.read_text()))
    record = {
        "project": "default",
        "key": "anonymous_id=a1",
        "received_at": 1,
        "sent_at": None,
        "ip": "",
        "user_agent": "",
        "source": "native",
        "origin": "",
        "origin_offset": -1,
        "events": [
            {
                "event_id": "e1",
                "type": "track",
                "event": "x",
                "time": 1,
                "client_time": None,
                "platform": "h5",
                "identities": {"anonymous_id": "a1"},
                "properties": "{}",
                "context": "{}",
                "lib_name": "",
                "lib_version": "",
                "user_id": None,
                "warnings": [],
            }
        ],
    }
    current = codec("event_batch")
    old_fingerprint = next(fp for fp, s in current._writers.items() if s is not current.schema)
    buf = io.BytesIO()
    buf.write(b"\xc3\x01" + old_fingerprint)
    fastavro.schemaless_writer(buf, v1, record)
    decoded = decode_batch(buf.getvalue())
    assert decoded.events[0].enrichment == {}  # the v2 field's default
    assert decoded.events[0].identities == {"anonymous_id": "a1"}


def test_record_written_with_v2_is_read_with_an_empty_entry() -> None:
    v2 = fastavro.parse_schema(json.loads((HISTORY.parent / "event_batch.v2.avsc").read_text()))
    fingerprint = bytes.fromhex(
        fastavro.schema.fingerprint(fastavro.schema.to_parsing_canonical_form(v2), "CRC-64-AVRO")
    )
    event = {
        "event_id": "e2", "type": "track", "event": "x", "time": 1, "client_time": None,
        "platform": "h5", "identities": {"anonymous_id": "a2"}, "properties": "{}",
        "context": '{"qr": "q9"}', "lib_name": "", "lib_version": "", "user_id": None,
        "warnings": [], "enrichment": {"os": "iOS"},
    }  # fmt: skip
    record = {"project": "default", "key": "k", "received_at": 1, "sent_at": None, "ip": "",
              "user_agent": "", "source": "native", "origin": "", "origin_offset": -1,
              "events": [event]}  # fmt: skip
    buf = io.BytesIO()
    buf.write(b"\xc3\x01" + fingerprint)
    fastavro.schemaless_writer(buf, v2, record)
    decoded = decode_batch(buf.getvalue()).events[0]
    assert decoded.entry == {}  # the v3 field's default
    assert decoded.enrichment == {"os": "iOS"}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{}", id="json"),
        pytest.param(b"\xc3\x01" + b"\x00" * 8 + b"x", id="unknown-fingerprint"),
    ],
)
def test_garbage_raises_schema_error(data: bytes) -> None:
    with pytest.raises(SchemaError):
        codec("event_batch").decode(data)


def test_truncated_record_raises_schema_error() -> None:
    data = encode_batch(_batch())
    with pytest.raises(SchemaError):
        codec("event_batch").decode(data[:-5])


def test_encode_rejects_wrong_types() -> None:
    with pytest.raises(SchemaError):
        Codec("dead_letter").encode({"project": 1})
