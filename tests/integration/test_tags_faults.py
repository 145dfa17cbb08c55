"""A tag worker killed mid-stream (kill -9) ends with the same tags as a run without faults."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest

from schemas.records import TrackEvent
from sinks.routes.tags import tag_text
from streams.domain.tags import apply_events
from streams.tag_files import load_definitions
from tests.stack import running_stack, stack_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USERS = 60
REQUESTS = 600


def _requests(seed: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    anons = [f"kill-{uuid.uuid4().hex[:8]}" for _ in range(USERS)]
    now = int(time.time() * 1000)
    out = []
    for i in range(REQUESTS):
        anon = rng.choice(anons)
        batch = []
        for j in range(rng.randint(1, 4)):
            name = rng.choice(["$pageview", "view_product", "add_to_cart", "pay_order"])
            props: dict[str, Any] = {"category": rng.choice(["shoes", "hats"])}
            if name == "pay_order":
                props["amount"] = rng.choice([10, 99, 350])
            batch.append(
                {
                    "event_id": f"{anon}-{i}-{j}",
                    "type": "track",
                    "event": name,
                    "time": now + i,
                    "platform": "h5",
                    "identities": {"anonymous_id": anon},
                    "properties": props,
                    "context": {},
                }
            )
        out.append(batch)
    return out


@pytest.mark.needs_quirks(
    "true_highwaters",
    "empty_active_fetch",
    "seek_committed_or_beginning",
    reason="a restarted worker recovers its tables from changelogs whose end the broker misreports",
)
def test_kill_9_mid_stream_gives_the_tags_of_a_clean_run(tmp_path: Any) -> None:
    requests = _requests(7)
    with running_stack(stack_settings(tmp_path / "data")) as st:

        def send() -> None:
            for n, batch in enumerate(requests):
                assert st.post(batch).status_code == 200
                if n % 50 == 0:
                    time.sleep(0.25)

        sender = threading.Thread(target=send)
        sender.start()
        st.wait_for("SELECT count() FROM siyu.user_tags", lambda v: int(v) > 0, timeout=60)
        assert sender.is_alive(), "the stream must still be running when the worker dies"
        worker = st.stack.children["worker-0"]
        assert worker.proc is not None
        worker.proc.kill()
        worker.proc.wait()
        assert st.stack.supervise_once() == ["worker-0"]
        sender.join()
        st.wait_drained(timeout=180)
        now = int(time.time() * 1000)

        by_anon: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for batch in requests:
            by_anon[batch[0]["identities"]["anonymous_id"]].extend(batch)
        users = {
            r["anon"]: r["user_id"]
            for r in st.sql(
                "SELECT identities['anonymous_id'] AS anon, any(user_id) AS user_id "
                "FROM siyu.events WHERE startsWith(anon, 'kill-') GROUP BY anon"
            )
        }
        stored = {
            r["user_id"]: r["tags"]
            for r in st.sql("SELECT user_id, tags FROM siyu.user_tags FINAL WHERE deleted = 0")
        }
        assert st.scalar("SELECT count() FROM siyu.events") == sum(len(b) for b in requests)

    defs = load_definitions()
    assert len(users) == len(by_anon)
    for anon, events in by_anon.items():
        user = users[anon]
        expected = apply_events(
            defs, None, [_track(e, user) for e in events], now, user_id=user
        ).profile["tags"]
        assert stored[user] == {k: tag_text(v) for k, v in expected.items()}, anon


def _track(e: dict[str, Any], user: str) -> TrackEvent:
    return TrackEvent(
        event_id=e["event_id"],
        type=e["type"],
        event=e["event"],
        time=e["time"],
        platform=e["platform"],
        identities=e["identities"],
        properties=e["properties"],
        context=e["context"],
        user_id=user,
    )
