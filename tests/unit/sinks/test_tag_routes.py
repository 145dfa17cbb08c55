"""Tag sink routes: rows they produce, and that chDB accepts them into the migrated tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from schemas.tag_records import encode_tag_changes
from sinks.route import Record
from sinks.routes.tags import TAG_CHANGES, USER_TAGS, routes, tag_text
from sinks.writer import ClickHouseWriter
from siyu.settings import Settings
from streams.domain.tag_definitions import TagChange

SETTINGS = Settings()
PROFILE_ROUTE, CHANGES_ROUTE = routes(SETTINGS)
CHANGELOG = "siyu-user_profiles-changelog"


def _profile_record(doc: dict[str, object] | None, offset: int = 5) -> Record:
    value = None if doc is None else orjson.dumps(doc)
    return Record(CHANGELOG, 1, offset, b"u1", value, 1_764_000_000_000)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(True, "true", id="true"),
        pytest.param(False, "false", id="false"),
        pytest.param(3, "3", id="int"),
        pytest.param(2.5, "2.5", id="float"),
        pytest.param("silent", "silent", id="text"),
    ],
)
def test_tag_text(value: object, text: str) -> None:
    assert tag_text(value) == text


def test_route_patterns_match_only_their_topics() -> None:
    assert PROFILE_ROUTE.pattern is not None
    import re

    assert re.match(PROFILE_ROUTE.pattern, CHANGELOG)
    assert not re.match(PROFILE_ROUTE.pattern, "siyu-user_event_counts-changelog")
    assert CHANGES_ROUTE.topic == "siyu.tags.changes"


def test_profile_changelog_gives_state_and_current_tags() -> None:
    doc: dict[str, object] = {
        "v": {
            "project": "p",
            "tags": {"koc": True, "orders": 2},
            "updated_at": 7,
            "properties": {"values": {"vip": True, "labels": ["a"], "n": 1.5}, "meta": {}},
        },
        "o": {},
    }
    rows = list(PROFILE_ROUTE.to_rows(_profile_record(doc)))
    tables = [t.name for t, _ in rows]
    assert tables == ["siyu.stream_state", "siyu.user_tags", "siyu.user_properties"]
    assert rows[2][1][:4] == (
        "p",
        "u1",
        {"vip": "true", "labels": '["a"]', "n": "1.5"},
        '{"vip":true,"labels":["a"],"n":1.5}',
    )
    assert rows[1][1] == (
        "p",
        "u1",
        {"koc": "true", "orders": "2"},
        '{"koc":true,"orders":2}',
        7,
        0,
        1_764_000_000_000_000_005,
    )


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(None, id="tombstone"),
        pytest.param({"v": {"tags": {"a": 1}}, "o": {}, "r": "u2"}, id="merged-away"),
        pytest.param({"v": None, "o": {}}, id="no-state"),
    ],
)
def test_deleted_users(doc: dict[str, object] | None) -> None:
    ((_, row),) = [r for r in PROFILE_ROUTE.to_rows(_profile_record(doc)) if r[0] is USER_TAGS]
    assert (row[2], row[3]) == ({}, "{}")
    assert row[5] == 1


def test_records_without_key_give_nothing() -> None:
    assert list(PROFILE_ROUTE.to_rows(Record(CHANGELOG, 0, 0, None, b"{}", 1))) == []


def test_change_rows() -> None:
    value = encode_tag_changes(
        "p", "u1", [TagChange("u1", "lifecycle", "new", "silent", 9, "timer"),
                    TagChange("u1", "koc", None, True, 9, "referral:u2"),
                    TagChange("u1", "orders", 1, None, 9, "merge")],
    )  # fmt: skip
    rows = [row for _, row in CHANGES_ROUTE.to_rows(Record("t", 0, 0, b"u1", value, 1))]
    assert rows == [
        ("p", "u1", "lifecycle", "new", "silent", 9, "timer"),
        ("p", "u1", "koc", None, "true", 9, "referral:u2"),
        ("p", "u1", "orders", "1", None, 9, "merge"),
    ]
    with pytest.raises(ValueError, match="empty record"):
        list(CHANGES_ROUTE.to_rows(Record("t", 0, 3, b"u1", None, 1)))


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[ClickHouseWriter]:
    w = ClickHouseWriter(url=None, chdb_path=tmp_path / "chdb")
    w.migrate()
    yield w
    w.close()


def test_rows_land_in_chdb_and_views_answer(writer: ClickHouseWriter) -> None:
    for offset, (user, tags) in enumerate(
        [("u1", {"lifecycle": "new"}), ("u1", {"lifecycle": "silent", "rfm_segment": "x"}),
         ("u2", {"lifecycle": "new"})]
    ):  # fmt: skip
        doc = {"v": {"project": "p", "tags": tags, "updated_at": 1_764_000_000_000}, "o": {}}
        record = Record(CHANGELOG, 0, offset, user.encode(), orjson.dumps(doc), 1_764_000_000_000)
        for table, row in PROFILE_ROUTE.to_rows(record):
            writer.insert(table.name, table.columns, [row])
    value = encode_tag_changes("p", "u1", [TagChange("u1", "koc", None, True, 9, "x")])
    for table, row in CHANGES_ROUTE.to_rows(Record("t", 0, 0, b"u1", value, 1)):
        writer.insert(table.name, TAG_CHANGES.columns, [row])
    lifecycle = writer.rows("SELECT lifecycle, users FROM siyu.tags_lifecycle ORDER BY lifecycle")
    assert lifecycle == [("new", 1), ("silent", 1)]
    assert writer.rows("SELECT segment, users FROM siyu.tags_rfm") == [("x", 1)]
    values = writer.rows(
        "SELECT user_id FROM siyu.user_tag_values WHERE tag = 'lifecycle' AND value = 'new'"
    )
    assert values == [("u2",)]
    assert writer.rows("SELECT tag, old, new FROM siyu.tag_changes") == [("koc", None, "true")]


def test_lookup_reads_typed_tags_back(writer: ClickHouseWriter) -> None:
    from sinks.tag_lookup import read_user_tags

    doc = {"v": {"project": "p", "tags": {"koc": True, "n": 2, "x": "o'k"}, "updated_at": 5}}
    record = Record(CHANGELOG, 0, 1, b"u'1", orjson.dumps(doc), 1_764_000_000_000)
    for table, row in PROFILE_ROUTE.to_rows(record):
        writer.insert(table.name, table.columns, [row])
    found = read_user_tags(writer.rows, "p", "u'1")
    assert found is not None
    assert (found.user_id, found.tags, found.updated_at) == ("u'1", doc["v"]["tags"], 5)  # type: ignore[index]
    assert read_user_tags(writer.rows, "p", "nobody") is None
