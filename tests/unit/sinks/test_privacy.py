"""Forget and export one person in a real chDB: tables found by their columns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sinks.exceptions import SinkRejected
from sinks.privacy import PersonTables, find_person
from sinks.privacy_routes import export_person
from sinks.retention import apply_retention
from sinks.writer import ClickHouseWriter

NOW = 1_764_000_000_000
EVENTS = ["project", "event_id", "type", "event", "time", "received_at", "user_id", "identities"]
MAP = ["project", "id_type", "id_value", "user_id", "version", "deleted", "time", "event_id"]
MOBILE = "13800138000"


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[ClickHouseWriter]:
    w = ClickHouseWriter(url=None, chdb_path=tmp_path / "chdb")
    w.migrate()
    # Alice (u-a, and u-a0 merged into her), Bob (u-b), and Alice's ids in another project.
    w.insert(
        "siyu.events",
        EVENTS,
        [
            ("shop", "e1", "track", "view", NOW, NOW, "u-a", {"mobile": MOBILE}),
            ("shop", "e2", "track", "pay", NOW, NOW, "u-a0", {"anonymous_id": "dev-a"}),
            ("shop", "e3", "track", "view", NOW, NOW, "u-b", {"anonymous_id": "dev-b"}),
            ("club", "e4", "track", "view", NOW, NOW, "u-a", {"mobile": MOBILE}),
        ],
    )
    w.insert(
        "siyu.identity_map",
        MAP,
        [
            ("shop", "mobile", MOBILE, "u-a", 1, 0, NOW, "e1"),
            ("shop", "anonymous_id", "dev-a", "u-a", 2, 0, NOW, "e2"),
            ("shop", "user_id", "u-a", "u-a", 1, 0, NOW, "e1"),
            ("shop", "user_id", "u-a0", "u-a", 2, 0, NOW, "e2"),
            ("shop", "anonymous_id", "dev-b", "u-b", 3, 0, NOW, "e3"),
            ("club", "mobile", MOBILE, "u-a", 1, 0, NOW, "e4"),
        ],
    )
    w.insert(
        "siyu.identity_merges",
        ["project", "loser", "survivor", "time", "event_id", "reason"],
        [("shop", "u-a0", "u-a", NOW, "e2", "login")],
    )
    w.insert(
        "siyu.stream_state",
        ["state_table", "key", "partition", "value", "deleted", "version"],
        [
            ("user_event_counts", "u-a", 0, '{"v": 2}', 0, 1),
            ("user_event_counts", "u-b", 0, '{"v": 1}', 0, 1),
            ("identity_graph", "i\x1fshop\x1fmobile\x1f" + MOBILE, 0, '{"v": ["u-a", 1]}', 0, 1),
        ],
    )
    w.insert(
        "siyu.dead_letters",
        [
            "project",
            "dl_id",
            "received_at",
            "route",
            "reason",
            "event_index",
            "event_id",
            "payload",
        ],
        [
            ("shop", "d1", NOW, "/v1/batch", "bad", 0, "x", f'{{"mobile": "{MOBILE}"}}'),
            ("shop", "d2", NOW, "/v1/batch", "bad", 0, "y", '{"other": 1}'),
        ],
    )
    # A table added later by anyone: found by its user_id column, not by a list.
    w.command(
        "CREATE TABLE siyu.segment_log (project String, user_id String, segment String) "
        "ENGINE = MergeTree ORDER BY (project, user_id)"
    )
    w.insert(
        "siyu.segment_log",
        ["project", "user_id", "segment"],
        [("shop", "u-a", "vip"), ("shop", "u-b", "vip")],
    )
    yield w
    w.close()


def _count(w: ClickHouseWriter, sql: str, params: dict[str, Any] | None = None) -> int:
    return int(w.rows(sql, params)[0][0])


def test_find_person_collects_merged_users_and_every_identity(writer: ClickHouseWriter) -> None:
    person = find_person(writer, "shop", "mobile", MOBILE)
    assert person.users == ("u-a", "u-a0")
    assert set(person.identities) == {("mobile", MOBILE), ("anonymous_id", "dev-a")}
    unknown = find_person(writer, "shop", "mobile", "10000000000")
    assert unknown.users == ()


def test_forget_removes_the_person_from_every_table_and_nobody_else(
    writer: ClickHouseWriter,
) -> None:
    tables = PersonTables(writer)
    found = tables.discover()
    assert {"events", "identity_map", "identity_merges", "stream_state", "segment_log"} <= set(
        found
    )
    assert "user_days" in found  # a materialized helper table (filled by its view)
    person = find_person(writer, "shop", "mobile", MOBILE)
    before_days = _count(writer, "SELECT count() FROM siyu.user_days WHERE user_id = 'u-b'")
    removed = tables.delete(person)
    assert removed["events"] == 2
    assert removed["identity_map"] == 4
    assert removed["segment_log"] == 1
    assert removed["dead_letters"] == 1
    assert removed["stream_state"] == 2
    # No row anywhere holds any of the person's user ids or identities in this project.
    assert tables.count(person) == {}
    for value in ("u-a", "u-a0", MOBILE, "dev-a"):
        for table, cols in found.items():
            text_cols = [c for c in cols if c in ("user_id", "id_value", "key", "loser")]
            for c in text_cols:
                n = _count(
                    writer,
                    f"SELECT count() FROM siyu.`{table}` WHERE `{c}` LIKE %(v)s"
                    + (" AND project = 'shop'" if "project" in cols else ""),
                    {"v": f"%{value}%"},
                )
                assert n == 0, (table, c, value)
    # Bob and the other project's Alice are untouched.
    assert _count(writer, "SELECT count() FROM siyu.events WHERE project = 'shop'") == 1
    assert _count(writer, "SELECT count() FROM siyu.events WHERE project = 'club'") == 1
    assert _count(writer, "SELECT count() FROM siyu.segment_log") == 1
    assert _count(writer, "SELECT count() FROM siyu.dead_letters") == 1
    assert _count(writer, "SELECT count() FROM siyu.user_days WHERE user_id = 'u-b'") == (
        before_days
    )


def test_export_answers_every_row_held_about_the_person(writer: ClickHouseWriter) -> None:
    doc = export_person(writer, "shop", "mobile", MOBILE)
    assert doc["user_ids"] == ["u-a", "u-a0"]
    assert sorted(r["event_id"] for r in doc["tables"]["events"]) == ["e1", "e2"]
    assert [r["segment"] for r in doc["tables"]["segment_log"]] == ["vip"]
    assert {r["id_value"] for r in doc["tables"]["identity_map"]} == {
        MOBILE,
        "dev-a",
        "u-a",
        "u-a0",
    }
    assert "club" not in {r["project"] for r in doc["tables"]["events"]}
    assert export_person(writer, "shop", "mobile", "10000000000")["tables"] == {}


def test_retention_sets_a_ttl_per_configured_table(writer: ClickHouseWriter) -> None:
    applied = apply_retention(writer, {"events": 30, "dead_letters": 7})
    assert applied == {"events": "time", "dead_letters": "received_at"}
    ddl = writer.rows("SELECT create_table_query FROM system.tables WHERE name = 'events'")
    assert "TTL toDateTime(time) + toIntervalDay(30)" in str(ddl[0][0])
    with pytest.raises(SinkRejected):
        apply_retention(writer, {"no_such_table": 3})
    assert apply_retention(writer, {}) == {}
