"""A gracefully restarted worker recovers every key of its tables from the changelog.

A graceful stop commits everything, so nothing is replayed that could hide a key
recovered with a stale value (the failure the ListOffsets patch prevents; the patch
itself is checked against the broker in test_offsets.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.stack import RunningStack, restart_worker

pytestmark = pytest.mark.integration

USERS = 300


def _round(run: str, k: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{run}-{k}-{u}",
            "event": "$pageview",
            "time": 1_764_000_000_000,
            "platform": "h5",
            "identities": {"anonymous_id": f"{run}-{u}"},
        }
        for u in range(USERS)
    ]


def _totals(stack: RunningStack, run: str) -> list[int]:
    rows = stack.sql(
        "SELECT c.events AS n FROM siyu.user_event_counts AS c INNER JOIN "
        f"(SELECT DISTINCT user_id FROM siyu.events WHERE event_id LIKE '{run}-%') AS e "
        "ON e.user_id = c.user_id",
        operator=True,
    )
    return sorted(int(r["n"]) for r in rows)


@pytest.mark.needs_quirks(
    "true_highwaters",
    reason="a restarted worker recovers its tables from changelogs whose end the broker misreports",
)
def test_graceful_worker_restart_recovers_every_key(stack: RunningStack) -> None:
    run = uuid.uuid4().hex[:8]
    for k in range(3):
        assert stack.post(_round(run, k)).status_code == 200
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE event_id LIKE '{run}-%'", lambda n: n == 3 * USERS
    )
    stack.wait_drained()
    restart_worker(stack, 0, hard=False)
    assert stack.post(_round(run, 3)).status_code == 200
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE event_id LIKE '{run}-%'", lambda n: n == 4 * USERS
    )
    stack.wait_drained()
    assert _totals(stack, run) == [4] * USERS
