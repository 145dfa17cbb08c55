"""The collector's fast EventBatch writer must produce the codec's bytes exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.wire import encode_batch as fast_encode
from schemas.records import EventBatch, TrackEvent, decode_batch, encode_batch

text = st.text(max_size=40)
longs = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
events = st.builds(
    TrackEvent,
    event_id=text,
    type=text,
    event=text,
    time=longs,
    platform=text,
    identities=st.dictionaries(text, text, max_size=4),
    properties=st.dictionaries(text, json_values, max_size=5),
    context=st.dictionaries(text, json_values, max_size=3),
    client_time=st.none() | longs,
    lib_name=text,
    lib_version=text,
    user_id=st.none() | text,
    warnings=st.lists(text, max_size=3).map(tuple),
    enrichment=st.dictionaries(text, text, max_size=4),
)
batches = st.builds(
    EventBatch,
    project=text,
    key=text,
    received_at=longs,
    events=st.lists(events, max_size=6).map(tuple),
    sent_at=st.none() | longs,
    ip=text,
    user_agent=text,
    source=text,
    origin=text,
    origin_offset=longs,
)


@settings(max_examples=500, deadline=None)
@given(batches)
def test_fast_writer_is_byte_identical_to_the_codec(batch: EventBatch) -> None:
    assert fast_encode(batch) == encode_batch(batch)


def test_round_trip() -> None:
    e = TrackEvent(
        event_id="e",
        type="track",
        event="x",
        time=1_795_000_000_000,
        platform="h5",
        identities={"anonymous_id": "a"},
        properties={"p": [1, {"q": "商品"}]},
        enrichment={"os": "iOS"},
    )
    batch = EventBatch(project="default", key="anonymous_id=a", received_at=5, events=(e, e))
    assert decode_batch(fast_encode(batch)) == batch
