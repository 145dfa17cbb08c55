"""The SQL endpoint of a running stack: siyu sql/status with the demo read key, scoping."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.stack import READ_KEY, RunningStack

pytestmark = pytest.mark.integration


def _siyu(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "siyu", *args],
        env=stack.settings.child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_siyu_sql_and_status_read_with_the_project_read_key(stack: RunningStack) -> None:
    run = uuid.uuid4().hex[:8]
    event = {
        "event_id": f"{run}-1",
        "event": "view_product",
        "platform": "h5",
        "identities": {"anonymous_id": f"sql-{run}"},
    }
    assert stack.post([event]).status_code == 200
    stack.wait_for(f"SELECT count() FROM siyu.events WHERE event_id = '{run}-1'", lambda n: n == 1)
    done = _siyu(
        stack, "sql", f"SELECT event FROM siyu.events WHERE event_id = '{run}-1'", "--format", "TSV"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "view_product"
    status = _siyu(stack, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "siyu.events" in status.stdout
    refused = _siyu(stack, "sql", "SELECT * FROM file('/etc/passwd', 'LineAsString')")
    assert refused.returncode == 1
    assert "root:" not in refused.stdout + refused.stderr
    assert "not allowed" in refused.stderr  # errors go to stderr
    # Without a key nothing is served; the stack's own tools use the read key.
    assert stack.http.post(stack.sql_url, content="SELECT 1").status_code == 401
    assert (
        stack.http.post(stack.sql_url, content="SELECT 1", headers={"X-Siyu-Key": READ_KEY})
    ).status_code == 200


def test_a_query_that_would_run_forever_ends_by_its_limit_while_events_land(
    stack: RunningStack,
) -> None:
    outcome: dict[str, Any] = {}

    def forever() -> None:
        outcome["answer"] = httpx.post(
            stack.sql_url,
            content="SELECT count() FROM numbers(1e12)",
            auth=("default", READ_KEY),
            timeout=stack.settings.sql.max_execution_s + 60,
        )

    thread = threading.Thread(target=forever)
    thread.start()
    time.sleep(0.5)
    run = uuid.uuid4().hex[:8]
    events = [
        {
            "event_id": f"{run}-{i}",
            "event": "view_product",
            "platform": "h5",
            "identities": {"anonymous_id": f"busy-{run}"},
        }
        for i in range(20)
    ]
    assert stack.post(events).status_code == 200
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE event_id LIKE '{run}-%'", lambda n: n == 20
    )
    # The events were written (and read back) while the query was still running.
    assert thread.is_alive()
    thread.join()
    answer = outcome["answer"]
    assert answer.status_code == 400
    assert "TIMEOUT_EXCEEDED" in answer.json()["error"]["message"]
