"""HTTP → Kafka → Faust → ClickHouse on the real embedded stack."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.stack import (
    RunningStack,
    assert_all_landed,
    restart_worker,
    running_stack,
    stack_settings,
)

pytestmark = pytest.mark.integration


def _events(run: str, n: int, users: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{run}-{i}",
            "type": "track",
            "event": "view_product" if i % 3 else "$pageview",
            "time": 1_764_000_000_000 + i,
            "platform": "miniprogram" if i % 2 else "h5",
            "identities": {"anonymous_id": f"{run}-user-{i % users}"},
            "properties": {"product_id": f"p{i}", "price": i / 10},
            "context": {"lib": {"name": "test", "version": "1"}},
        }
        for i in range(start, start + n)
    ]


def _post_batches(stack: RunningStack, events: list[dict[str, Any]], size: int = 100) -> None:
    for i in range(0, len(events), size):
        answer = stack.post({"sent_at": 1_764_000_001_000, "events": events[i : i + size]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == len(events[i : i + size])


def _count(stack: RunningStack, run: str) -> int:
    return int(stack.scalar(f"SELECT count() FROM siyu.events WHERE event_id LIKE '{run}-%'"))


def _user_counts(stack: RunningStack, run: str) -> dict[str, int]:
    rows = stack.sql(
        "SELECT any(e.identities['anonymous_id']) AS anon, c.events AS n "
        "FROM siyu.user_event_counts AS c "
        "INNER JOIN (SELECT user_id, identities FROM siyu.events "
        f"WHERE event_id LIKE '{run}-%') AS e "
        "ON e.user_id = c.user_id GROUP BY c.user_id, c.events",
        operator=True,
    )
    return {r["anon"]: int(r["n"]) for r in rows}


def test_thousand_events_land_once_with_their_fields(stack: RunningStack) -> None:
    run = uuid.uuid4().hex[:8]
    events = _events(run, 1000, users=20)
    _post_batches(stack, events)
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE event_id LIKE '{run}-%'", lambda n: n == 1000
    )
    row = stack.sql(
        "SELECT event, platform, identities, properties, user_id, "
        "toUnixTimestamp64Milli(time) AS t "
        f"FROM siyu.events WHERE event_id = '{run}-7'"
    )[0]
    assert row["event"] == "view_product"
    assert row["platform"] == "miniprogram"
    assert row["identities"] == {"anonymous_id": f"{run}-user-7"}
    assert '"product_id":"p7"' in row["properties"]
    assert row["user_id"]
    # sent_at was 1_764_000_001_000: stored time = received_at + (time - sent_at), near now.
    assert int(row["t"]) > 1_764_000_001_000

    _post_batches(stack, events)  # the same 1,000 again
    stack.wait_drained()
    assert _count(stack, run) == 1000
    # Re-sent event ids are dropped before stream state (the identity stage's retry
    # window), so per-user counts do not double either.
    assert sum(_user_counts(stack, run).values()) == 1000


@pytest.mark.needs_quirks(
    "true_highwaters",
    "empty_active_fetch",
    "seek_committed_or_beginning",
    reason="a restarted worker recovers its tables from changelogs whose end the broker misreports",
)
def test_worker_killed_mid_stream_loses_and_duplicates_nothing(stack: RunningStack) -> None:
    run = uuid.uuid4().hex[:8]
    events = _events(run, 3000, users=50)
    sender = threading.Thread(target=_post_batches, args=(stack, events, 50))
    sender.start()
    restart_worker(stack, 0, hard=True)
    sender.join()
    assert_all_landed(stack, run, 3000)
    stack.wait_drained()
    assert _count(stack, run) == 3000
    counts = _user_counts(stack, run)
    assert len(counts) == 50
    assert sum(counts.values()) == 3000  # kill -9 replays records; state applies each once


@pytest.mark.needs_quirks(
    "seeding",
    "true_highwaters",
    reason="the restarted embedded broker is empty: state is republished from ClickHouse",
)
def test_whole_stack_restart_keeps_events_and_stream_state(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path / "data")
    run = uuid.uuid4().hex[:8]
    with running_stack(settings) as first:
        _post_batches(first, _events(run, 500, users=10))
        first.wait_for(
            f"SELECT count() FROM siyu.events WHERE event_id LIKE '{run}-%'", lambda n: n == 500
        )
    # Graceful stop drained everything; the embedded broker forgot all topics.
    with running_stack(settings) as second:
        assert _count(second, run) == 500
        _post_batches(second, _events(run, 500, users=10, start=500))
        second.wait_for(
            f"SELECT count() FROM siyu.events WHERE event_id LIKE '{run}-%'", lambda n: n == 1000
        )
        second.wait_drained()
        counts = _user_counts(second, run)
        # Each user had 50 events before the restart and 50 after: state continued.
        assert counts == {f"{run}-user-{u}": 100 for u in range(10)}
