from __future__ import annotations

from collectors.confirm import event_ids
from collectors.wire import encode_batch
from schemas.records import EventBatch, TrackEvent


def _event(event_id: str) -> TrackEvent:
    return TrackEvent(
        event_id=event_id,
        type="track",
        event="x",
        time=1_795_000_000_000,
        platform="h5",
        identities={"anonymous_id": "a"},
    )


def test_event_ids_of_a_raw_record_as_the_collector_writes_it() -> None:
    batch = EventBatch(
        project="shop", key="anonymous_id=a", received_at=5, events=(_event("e1"), _event("e'2"))
    )
    assert event_ids(encode_batch(batch)) == ("shop", ("e1", "e'2"))
