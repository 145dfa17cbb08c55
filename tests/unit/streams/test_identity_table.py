"""The identity graph's storage and the link agent's per-record decisions."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import faust
import orjson

from schemas.codec import codec
from schemas.records import EventBatch, TrackEvent, encode_batch
from streams.agents.identity_links import decide_batch
from streams.agents.identity_table import GraphStore, graph_table, version_of
from streams.domain.identity_model import new_user_id
from streams.domain.identity_rules import DEFAULT_RULES, Identity


class FakeTable:
    """What GraphStore needs from the Faust table: a store to read, keys to set."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.max_version = -1

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.data[key] = value


def _store() -> tuple[GraphStore, FakeTable]:
    table = FakeTable()
    return GraphStore(table), table  # type: ignore[arg-type]


def _event(event_id: str, identities: dict[str, str], time: int = 1) -> TrackEvent:
    return TrackEvent(
        event_id=event_id, type="track", event="e", time=time, platform="h5", identities=identities
    )


def _batch(*events: TrackEvent, offset: int = 0) -> dict[str, Any]:
    """A links record as the agent sees it: the Avro record as a dict."""
    batch = EventBatch(
        project="p",
        key="k",
        received_at=0,
        events=events,
        origin="siyu.events.raw/2",
        origin_offset=offset,
    )
    return codec("event_batch").decode(encode_batch(batch))


def _users(out: Any) -> list[tuple[str, list[str]]]:
    return [(u, [e["event_id"] for e in events]) for u, events in out.stitched.items()]


def test_a_record_is_decided_staged_and_flushed() -> None:
    graph, table = _store()
    out = decide_batch(
        DEFAULT_RULES,
        graph,
        _batch(
            _event("1", {"anonymous_id": "A"}), _event("2", {"anonymous_id": "a", "login_id": "l"})
        ),
    )
    user = new_user_id("p", Identity("anonymous_id", "a"))
    assert _users(out) == [(user, ["1", "2"])]
    assert out.stitched[user][0]["identities"] == {"anonymous_id": "a"}
    assert out.stitched[user][0]["user_id"] == user
    assert {(a.id_type, a.id_value, a.user_id) for a in out.assignments} == {
        ("anonymous_id", "a", user),
        ("login_id", "l", user),
        ("user_id", user, user),
    }
    assert table.data == {}  # nothing visible before the flush
    assert graph.committed_owner("p")(Identity("anonymous_id", "a")) is None
    assert graph.decided("siyu.events.raw/2") == -1
    written = graph.flush()
    assert written == 4  # two identities, one user, the sequence
    assert graph.committed_owner("p")(Identity("login_id", "l")) == user
    assert graph.committed_owner("p")(Identity("login_id", "x")) is None
    assert graph.decided("siyu.events.raw/2") == 0
    assert graph.flush() == 0


def test_events_follow_a_merge_made_later_in_their_record() -> None:
    graph, _ = _store()
    decide_batch(DEFAULT_RULES, graph, _batch(_event("1", {"anonymous_id": "old"}, time=1)))
    graph.flush()
    out = decide_batch(
        DEFAULT_RULES,
        graph,
        _batch(
            _event("2", {"anonymous_id": "new"}, time=5),
            _event("3", {"anonymous_id": "new", "login_id": "l"}, time=6),
            _event("4", {"login_id": "l", "anonymous_id": "old"}, time=7),
            offset=1,
        ),
    )
    old = new_user_id("p", Identity("anonymous_id", "old"))
    new = new_user_id("p", Identity("anonymous_id", "new"))
    assert _users(out) == [(old, ["2", "3", "4"])]
    assert [(x.loser, x.survivor, x.event_id) for x in out.merges] == [(new, old, "4")]
    graph.flush()
    assert graph.final_user("p", new) == old
    assert graph.user("p", new) is not None


def test_conflicts_are_reported_with_their_event() -> None:
    graph, _ = _store()
    decide_batch(DEFAULT_RULES, graph, _batch(_event("1", {"anonymous_id": "d", "login_id": "a"})))
    out = decide_batch(
        DEFAULT_RULES, graph, _batch(_event("2", {"anonymous_id": "d", "login_id": "b"}, 9))
    )
    [c] = out.conflicts
    assert (c.event_id, c.time, c.id_type, c.id_value, c.reason) == (
        "2",
        9,
        "login_id",
        "b",
        "limit:login_id",
    )


def test_versions_grow_per_key_even_when_the_sequence_was_set_back() -> None:
    graph, table = _store()
    table.data[b"i\x1fp\x1fanonymous_id\x1fa"] = orjson.dumps({"v": ["u-old", 50]})
    key = b"u\x1fp\x1fu-old"
    table.data[key] = orjson.dumps({"v": {"t": 0, "s": 50, "i": {"anonymous_id": ["a"]}}})
    table.data[b"s"] = orjson.dumps({"v": 10, "o": {"siyu.events.raw/2": 3}})
    event = _event("1", {"anonymous_id": "a", "login_id": "l"})
    decide_batch(DEFAULT_RULES, graph, _batch(event, offset=2))
    graph.flush()
    assert version_of(table.data[key]) > 50
    assert graph.decided("siyu.events.raw/2") == 3  # never set back
    assert graph.next_version() > version_of(table.data[key])


def test_version_of_each_kind_of_value() -> None:
    assert version_of(None) == -1
    assert version_of(b'{"v":["u",4]}') == 4
    assert version_of(b'{"v":{"s":5,"t":0}}') == 5
    assert version_of(b'{"v":6,"o":{}}') == 6


def _changelog(key: bytes, value: bytes | None) -> Any:
    return SimpleNamespace(key=key, value=value, message=SimpleNamespace(value=value, partition=0))


def test_the_table_skips_changelog_values_older_than_what_it_holds() -> None:
    app = faust.App("identity-table-test", broker="kafka://127.0.0.1:1", store="memory://")
    table = graph_table(app, 4)
    table.data[b"k"] = b'{"v":["u2",7]}'
    table.apply_changelog_batch(
        [
            _changelog(b"k", b'{"v":["u1",5]}'),  # an echo of an older write
            _changelog(b"n", b'{"v":["u3",2]}'),
            _changelog(b"n", b'{"v":["u4",1]}'),
            _changelog(b"gone", None),
        ]
    )
    assert table.data.get(b"k") == b'{"v":["u2",7]}'
    assert table.data.get(b"n") == b'{"v":["u3",2]}'
    assert table.max_version == 2
    table.apply_changelog_batch([_changelog(b"k", b'{"v":["u5",8]}')])
    assert table.data.get(b"k") == b'{"v":["u5",8]}'


def test_repeated_identities_in_a_record_reuse_the_decision_until_an_unbind() -> None:
    graph, _ = _store()
    unbind = TrackEvent(
        event_id="2",
        type="track_id_unbind",
        event="e",
        time=2,
        platform="h5",
        identities={"anonymous_id": "a"},
    )
    out = decide_batch(
        DEFAULT_RULES,
        graph,
        _batch(
            _event("1", {"anonymous_id": "a"}),
            _event("1b", {"anonymous_id": "a"}),
            unbind,
            _event("3", {"anonymous_id": "a"}),
        ),
    )
    first = new_user_id("p", Identity("anonymous_id", "a"))
    again = new_user_id("p", Identity("anonymous_id", "a"), 1)
    assert _users(out) == [(first, ["1", "1b", "2"]), (again, ["3"])]
    assert out.outcomes == {"created": 2, "known": 1, "unbound": 1}


def test_the_graph_lives_in_the_memory_store_whatever_the_app_store() -> None:
    app = faust.App("identity-store-test", broker="kafka://127.0.0.1:1", store="rocksdb://")
    table = graph_table(app, 4)
    table.data[b"k"] = b'{"v":["u",1]}'
    assert table.data.get(b"k") == b'{"v":["u",1]}'
    assert type(table.data).__module__ == "faust.stores.memory"
