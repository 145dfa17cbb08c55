"""Kafka away for 30 s under traffic: every accepted event still reaches ClickHouse.

Two ways to be away. Frozen (SIGSTOP, then SIGCONT): the broker neither answers nor
forgets, the collector spools and replays. Restarted: the embedded broker comes back
empty; the collector spools, replays and re-sends what the broker had acknowledged and
lost, and the supervisor re-creates the topics and restarts sink and workers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import TopicPartition

from siyu.broker_quirks import for_kafka
from siyu.offsets import committed_offsets
from tests.stack import WRITE_KEY, RunningStack, running_stack, stack_settings, where_are

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_S = 30


class Traffic(threading.Thread):
    """Posts small batches until stopped; remembers the event ids answered 200."""

    def __init__(self, url: str, run_id: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.run_id = run_id
        self.stop = threading.Event()
        self.accepted: list[str] = []
        self.refused = 0
        self.latencies: list[float] = []
        self.outage_index = 0

    def finish(self) -> None:
        self.stop.set()
        self.join(30)

    def run(self) -> None:
        n = 0
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                ids = [f"{self.run_id}-{n + i}" for i in range(10)]
                n += 10
                events = [
                    {
                        "event_id": eid,
                        "event": "$pageview",
                        "platform": "h5",
                        "time": time.time_ns() // 1_000_000,
                        "identities": {"anonymous_id": f"{self.run_id}-anon-{i % 3}"},
                    }
                    for i, eid in enumerate(ids)
                ]
                started = time.monotonic()
                try:
                    answer = http.post(
                        self.url, content=orjson.dumps(events), headers={"X-Siyu-Key": WRITE_KEY}
                    )
                except httpx.HTTPError:
                    self.refused += len(ids)
                    continue
                self.latencies.append(time.monotonic() - started)
                if answer.status_code == 200 and answer.json()["accepted"] == len(ids):
                    self.accepted.extend(ids)
                else:
                    self.refused += len(ids)
                time.sleep(0.05)


def _diagnose(running: RunningStack) -> str:
    """Where events stopped: topic ends, consumer positions, stream counters."""
    s = running.settings
    lines = []
    tps = [
        TopicPartition(s.kafka.topic(t), p)
        for t in ("events.raw", "identity.links", "events.stitched")
        for p in range(1 if t == "identity.links" else s.kafka.partitions)
    ]
    ends = asyncio.run(for_kafka(s.kafka).end_offsets(s.kafka.bootstrap, tps))
    lines += [f"end {tp.topic}/{tp.partition} = {o}" for tp, o in sorted(ends.items())]
    for group in (s.worker.app_id, f"{s.worker.app_id}-sink"):
        committed = asyncio.run(committed_offsets(s.kafka.bootstrap, group, tps))
        lines += [f"{group} at {tp.topic}/{tp.partition} = {o}" for tp, o in committed.items()]
    text = httpx.get(f"http://127.0.0.1:{s.worker.metrics_port}/metrics", timeout=5).text
    lines += [x for x in text.splitlines() if x.startswith(("siyu_identity", "siyu_stream"))]
    return "\n".join(lines)


def _wait_all(running: RunningStack, run_id: str, accepted: set[str], tmp_path: Path) -> None:
    deadline = time.monotonic() + 300
    found: set[str] = set()
    while time.monotonic() < deadline:
        running.stack.supervise_once()
        rows = running.sql(f"SELECT event_id FROM siyu.events WHERE event_id LIKE '{run_id}-%'")
        found = {r["event_id"] for r in rows}
        if accepted <= found:
            break
        time.sleep(2)
    missing = accepted - found
    if missing:
        print(_diagnose(running))
        print(where_are(running, missing))
        print(running.http.get(running.collector_url + "/healthz").text)
    order = sorted(accepted, key=lambda e: int(e.rsplit("-", 1)[1]))
    first_missing = [e for e in order if e in missing][:5]
    assert not missing, (
        f"{len(missing)} of {len(accepted)} accepted events missing, first {first_missing}; "
        f"logs in {tmp_path / 'logs'}"
    )


@contextmanager
def _under_traffic(tmp_path: Path) -> Iterator[tuple[RunningStack, Traffic]]:
    """A stack of its own with traffic running (stopped on the way out if still running)."""
    with running_stack(stack_settings(tmp_path)) as running:
        traffic = Traffic(running.collector_url + "/v1/batch", uuid.uuid4().hex[:8])
        traffic.start()
        try:
            yield running, traffic
        finally:
            traffic.finish()


def _assert_stored_once(
    running: RunningStack, traffic: Traffic, tmp_path: Path, *, at_least: int
) -> None:
    """Every accepted event is in ``siyu.events``, one row per event id (copies sent again
    replace each other; the endpoint reads FINAL)."""
    accepted = set(traffic.accepted)
    assert len(accepted) > at_least
    _wait_all(running, traffic.run_id, accepted, tmp_path)
    twice = running.sql(
        "SELECT event_id, count() AS n FROM siyu.events "
        f"WHERE event_id LIKE '{traffic.run_id}-%' GROUP BY event_id HAVING n > 1"
    )
    assert twice == []


def test_frozen_broker_loses_no_accepted_event(tmp_path: Path) -> None:
    with running_stack(stack_settings(tmp_path)) as running:
        stack = running.stack
        run_id = uuid.uuid4().hex[:8]
        traffic = Traffic(running.collector_url + "/v1/batch", run_id)
        traffic.start()
        time.sleep(5)
        assert stack.broker is not None
        stack.broker.send_signal(signal.SIGSTOP)
        try:
            time.sleep(OUTAGE_S)
            spooled = running.http.get(running.collector_url + "/healthz").json()
        finally:
            stack.broker.send_signal(signal.SIGCONT)
        time.sleep(10)
        traffic.stop.set()
        traffic.join(30)
        assert spooled["spool_bytes"] > 0, "nothing was spooled while the broker was away"
        assert len(traffic.accepted) > 500
        _wait_all(running, run_id, set(traffic.accepted), tmp_path)
        assert running.http.get(running.collector_url + "/healthz").json()["spool_bytes"] == 0


@pytest.mark.needs_quirks(
    "outbox",
    "end_offsets",
    "no_topic_auto_creation",
    reason="the restarted embedded broker lost what it acknowledged; the collector sends it again",
)
def test_restarted_broker_loses_no_accepted_event(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path)
    with running_stack(settings) as running:
        stack = running.stack
        run_id = uuid.uuid4().hex[:8]
        traffic = Traffic(running.collector_url + "/v1/batch", run_id)
        traffic.start()
        time.sleep(5)
        assert stack.broker is not None
        traffic.outage_index = len(traffic.accepted)
        stack.broker.terminate()
        stack.broker.wait(10)
        time.sleep(OUTAGE_S)
        spooled = running.http.get(running.collector_url + "/healthz").json()
        # What `siyu run` does once a second: the dead broker is started again, topics
        # re-created, sink and workers restarted on the new, empty logs.
        assert "broker" in stack.supervise_once()
        time.sleep(5)
        traffic.stop.set()
        traffic.join(30)
        accepted = set(traffic.accepted)
        assert spooled["spool_bytes"] > 0, "nothing was spooled while the broker was away"
        assert len(accepted) > 500
        _wait_all(running, run_id, accepted, tmp_path)
        health = running.http.get(running.collector_url + "/healthz").json()
        assert health["spool_bytes"] == 0


@pytest.mark.needs_quirks(
    "outbox",
    "end_offsets",
    "no_topic_auto_creation",
    reason="the restarted embedded broker lost what it acknowledged; the collector sends it again",
)
def test_broker_killed_three_times_under_traffic_stores_every_accepted_event_once(
    tmp_path: Path,
) -> None:
    """kill -9 of the embedded broker at arbitrary moments: nothing accepted is lost."""
    with _under_traffic(tmp_path) as (running, traffic):
        stack = running.stack
        for pause in (6, 9, 4):
            time.sleep(pause)
            assert stack.broker is not None
            stack.broker.send_signal(signal.SIGKILL)
            stack.broker.wait(10)
            time.sleep(3)
            assert "broker" in stack.supervise_once()
        time.sleep(8)
        traffic.finish()
        _assert_stored_once(running, traffic, tmp_path, at_least=500)
        stats = running.http.get(running.collector_url + "/metrics").text
        assert "siyu_collector_outbox_dropped 0.0" in stats


def test_collector_and_broker_killed_together_store_every_accepted_event_once(
    tmp_path: Path,
) -> None:
    """kill -9 of the collector (all its processes) and the broker at the same moment: what
    the collector had answered for is in its outbox journal on disk and sent again at start."""
    with _under_traffic(tmp_path) as (running, traffic):
        stack = running.stack
        time.sleep(8)
        collector = stack.children["collector"].proc
        assert collector is not None
        assert stack.broker is not None
        os.killpg(collector.pid, signal.SIGKILL)
        stack.broker.send_signal(signal.SIGKILL)
        collector.wait(10)
        stack.broker.wait(10)
        assert {"broker", "collector"} <= set(stack.supervise_once())
        stack.wait_http(running.collector_url + "/healthz", "collector", 60)
        time.sleep(5)
        traffic.finish()
        _assert_stored_once(running, traffic, tmp_path, at_least=300)
        log = (tmp_path / "logs" / "collector.log").read_text()
        assert "messages of an earlier run to send again" in log
