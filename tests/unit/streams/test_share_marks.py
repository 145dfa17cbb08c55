"""The link agent marks the user a share names before the graph shows that user; the
funnels follow the mark, the events table does not keep it."""

from __future__ import annotations

from typing import Any

from schemas.codec import codec
from schemas.records import SHARER_USER, TrackEvent, event_from_avro
from sinks.route import Record
from sinks.routes.events import EVENTS, event_rows
from streams.agents.identity_links import decide_batch
from streams.agents.identity_table import GraphStore
from streams.agents.share_resolver import ShareResolver
from streams.domain.identity_model import new_user_id
from streams.domain.identity_rules import DEFAULT_RULES, Identity
from tests.unit.streams.test_identity_table import FakeTable, _batch


def _visit(event_id: str, anon: str, **share: Any) -> TrackEvent:
    return TrackEvent(
        event_id=event_id,
        type="track",
        event="visit",
        time=1,
        platform="mp",
        identities={"anonymous_id": anon},
        **share,
    )


def test_an_anonymous_sharer_decided_in_the_same_batch_is_marked_on_the_invitee() -> None:
    graph = GraphStore(FakeTable())  # type: ignore[arg-type]
    resolver = ShareResolver(DEFAULT_RULES, graph)
    decide_batch(DEFAULT_RULES, graph, _batch(_visit("s1", "sharer-anon"), offset=0))
    invitee = _batch(
        _visit("i1", "inv-anon", context={"share": {"sharer": "SHARER-ANON ", "depth": 1}}),
        _visit("i2", "inv-anon", properties={"$share_distinct_id": "sharer-anon"}),
        _visit("i3", "inv-anon", context={"share": {"sharer": "nobody-known"}}),
        _visit("i4", "inv-anon"),
        offset=1,
    )
    out = decide_batch(DEFAULT_RULES, graph, invitee)
    (events,) = out.stitched.values()
    resolver.mark("p", events)
    sharer = new_user_id("p", Identity("anonymous_id", "sharer-anon"))
    assert graph.table.data == {}  # the funnels' copy of the graph knows nobody yet
    assert [e["entry"].get(SHARER_USER) for e in events] == [sharer, sharer, None, None]
    # The funnels (another copy of the graph, empty) follow the mark.
    funnels = ShareResolver(DEFAULT_RULES, GraphStore(FakeTable()))  # type: ignore[arg-type]
    marked = event_from_avro(events[0])
    assert funnels.resolve("p", marked, "sharer-anon") == sharer
    assert funnels.resolve("p", event_from_avro(events[2]), "nobody-known") is None
    # The stored event keeps only what the collector derived.
    record = {**invitee, "key": sharer, "events": events}
    value = codec("event_batch").encode(record)
    rows = [
        row
        for table, row in event_rows(Record("siyu.events.stitched", 0, 1, b"k", value, 0))
        if table is EVENTS
    ]
    assert [row[-1] for row in rows] == [{}, {}, {}, {}]
