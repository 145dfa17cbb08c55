"""A dead receiver's backlog survives a kill -9 of the webhook process: once the receiver
is up, every delivery arrives exactly once (by ``event_id``), and a healthy receiver of
the same changes gets nothing twice either."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from siyu.ports import free_port
from tests.stack import RunningStack, restart_child
from webhooks.receiver import LocalReceiver

pytestmark = pytest.mark.integration

ADMIN = {"X-Siyu-Key": "demo-admin-key"}
SECRET = "durable-receiver-key"  # noqa: S105 - a test receiver's key
USERS = 5


def _until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _subscribe(stack: RunningStack, url: str, segment: str) -> str:
    made = stack.http.post(
        f"{stack.lookup_url}/v1/subscriptions",
        json={"url": url, "secret": SECRET, "segments": [segment]},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _ids(receiver: LocalReceiver, segment: str) -> Counter[str]:
    return Counter(d.body["event_id"] for d in receiver.bodies(lambda b: b["segment"] == segment))


def test_a_dead_receivers_backlog_survives_a_kill_of_the_webhook_process(
    stack: RunningStack,
) -> None:
    run = uuid.uuid4().hex[:8]
    segment = f"durable_{run}"
    made = stack.http.post(
        f"{stack.lookup_url}/v1/segments",
        json={"name": segment, "expression": f'has(properties.grp) && properties.grp == "{run}"'},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    down_port = free_port()
    healthy = LocalReceiver(SECRET, free_port()).start()
    late = LocalReceiver(SECRET, down_port)
    subs = [_subscribe(stack, f"http://127.0.0.1:{down_port}/hook", segment)]
    subs.append(_subscribe(stack, healthy.url, segment))
    try:
        time.sleep(2)  # the webhook process reads new subscriptions within about a second
        anons = [f"dur-{i}-{run}" for i in range(USERS)]
        answer = stack.post(
            [
                {
                    "event_id": uuid.uuid4().hex,
                    "type": "profile_set",
                    "time": int(time.time() * 1000),
                    "platform": "h5",
                    "identities": {"anonymous_id": anon},
                    "properties": {"grp": run},
                }
                for anon in anons
            ]
        )
        assert answer.status_code == 200, answer.text
        _until(lambda: len(_ids(healthy, segment)) == USERS, "the healthy receiver")
        # The dead receiver's deliveries have been tried (and are waiting for a retry).
        stack.wait_for(
            "SELECT uniqExact(event_id) FROM siyu.webhook_deliveries "
            f"WHERE subscription_id = '{subs[0]}' AND outcome = 'retry'",
            lambda n: int(n) == USERS,
            operator=True,
        )
        restart_child(stack, "webhooks")  # SIGKILL, then the supervisor starts it again
        late.start()
        _until(lambda: len(_ids(late, segment)) == USERS, "the deliveries after the restart")
        time.sleep(3)  # anything sent twice would have come by now
        for receiver in (late, healthy):
            got = _ids(receiver, segment)
            assert len(got) == USERS
            assert set(got.values()) == {1}, got
            users = {d.body["user_id"] for d in receiver.bodies(lambda b: b["segment"] == segment)}
            assert len(users) == USERS
            assert all(d.signature_ok for d in receiver.received)
    finally:
        for sub in subs:
            stack.http.delete(f"{stack.lookup_url}/v1/subscriptions/{sub}", headers=ADMIN)
        healthy.stop()
        late.stop()
