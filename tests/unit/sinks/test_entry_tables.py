"""The tables kept on insert for the live-code and group panels: a replayed event counts
once, and the views read the same answers as before from them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sinks.definitions import SqlDefinitions
from sinks.writer import ClickHouseWriter
from streams.funnel_config import load_funnels

T0 = 1_764_000_000_000
COLS = ["project", "event_id", "event", "time", "received_at", "user_id", "platform",
        "identities", "properties", "context"]  # fmt: skip


def _event(eid: str, user: str, event: str, at: int, props: dict[str, str] | None = None,
           ctx: dict[str, object] | None = None) -> list[object]:  # fmt: skip
    return ["p", eid, event, at, at, user, "miniprogram", {},
            json.dumps(props or {}), json.dumps(ctx or {})]  # fmt: skip


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[ClickHouseWriter]:
    w = ClickHouseWriter(url=None, chdb_path=tmp_path / "chdb")
    w.migrate(SqlDefinitions.build({}, load_funnels()))
    yield w
    w.close()


def test_code_entries_count_a_replayed_scan_once(writer: ClickHouseWriter) -> None:
    scans = [
        _event("e1", "u1", "$MPViewScreen", T0, ctx={"qr": "code-a"}),
        _event("e2", "u1", "$MPViewScreen", T0 + 5000, ctx={"query": {"qr_id": "code-a"}}),
        _event("e3", "u2", "$MPViewScreen", T0 + 9000, ctx={"qr": 42}),
        _event("e4", "u2", "$MPViewScreen", T0 + 9500, ctx={"scene": 1001}),
    ]
    writer.insert("siyu.events", COLS, scans)
    writer.insert("siyu.events", COLS, scans[:1])  # replayed
    rows = writer.rows(
        "SELECT qr_id, user_id, toUnixTimestamp64Milli(entered_at), scans "
        "FROM siyu.qr_code_users ORDER BY qr_id"
    )
    assert rows == [("42", "u2", T0 + 9000, 1), ("code-a", "u1", T0, 2)]


def test_group_changes_count_a_replayed_join_once(writer: ClickHouseWriter) -> None:
    def change(eid: str, member: str, action: str, at: int) -> list[object]:
        props = {"chat_id": "c1", "member_id": member, "member_type": "external",
                 "local_date": "2025-11-25"}  # fmt: skip
        return _event(eid, member, f"wecom_group_{action}", at, props)

    joins = [change("g1", "m1", "join", T0), change("g2", "m2", "join", T0 + 1000)]
    writer.insert("siyu.events", COLS, [*joins, change("g3", "m2", "leave", T0 + 2000)])
    writer.insert("siyu.events", COLS, joins)  # replayed
    members = writer.rows("SELECT member_id FROM siyu.group_members ORDER BY member_id")
    assert members == [("m1",)]
    daily = writer.rows("SELECT toString(day), new_members, lost_members FROM siyu.group_daily")
    assert daily == [("2025-11-25", 2, 1)]
    [(count,)] = writer.rows("SELECT count() FROM siyu.group_member_history")
    assert count == 3


def test_tables_are_filled_from_existing_events_once(writer: ClickHouseWriter) -> None:
    writer.insert("siyu.events", COLS, [_event("e1", "u1", "$MPViewScreen", T0, ctx={"qr": "a"})])
    for table in ("qr_entries_mv", "qr_entries"):
        writer.command(f"DROP TABLE siyu.{table}")
    writer.migrate(SqlDefinitions.build({}, load_funnels()))
    writer.migrate(SqlDefinitions.build({}, load_funnels()))
    assert writer.rows("SELECT qr_id, scans FROM siyu.qr_code_users") == [("a", 1)]
