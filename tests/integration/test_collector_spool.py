"""Kafka away for 30 s under traffic: every accepted event still reaches ClickHouse."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from siyu.broker import start_broker
from siyu.topics import ensure_topics
from tests.stack import WRITE_KEY, running_stack, stack_settings

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


def test_broker_outage_loses_no_accepted_event(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path)
    with running_stack(settings) as running:
        stack = running.stack
        run_id = uuid.uuid4().hex[:8]
        traffic = Traffic(running.collector_url + "/v1/batch", run_id)
        traffic.start()
        time.sleep(5)
        assert stack.broker is not None
        stack.broker.terminate()
        stack.broker.wait(10)
        outage_started = time.monotonic()
        while time.monotonic() - outage_started < OUTAGE_S:
            time.sleep(1)
            stack.supervise_once()
        spooled = running.http.get(running.collector_url + "/healthz").json()
        stack.broker = start_broker(settings.kafka.bootstrap, tmp_path / "broker-restarted.log")
        asyncio.run(ensure_topics(settings.kafka))
        time.sleep(10)
        traffic.stop.set()
        traffic.join(30)
        accepted = set(traffic.accepted)
        assert spooled["spool_bytes"] > 0, "nothing was spooled while the broker was away"
        assert len(accepted) > 500
        deadline = time.monotonic() + 180
        found: set[str] = set()
        while time.monotonic() < deadline:
            stack.supervise_once()
            rows = running.sql(
                f"SELECT event_id FROM siyu.events WHERE event_id LIKE '{run_id}-%'"
            )
            found = {r["event_id"] for r in rows}
            if accepted <= found:
                break
            time.sleep(2)
        missing = accepted - found
        assert not missing, f"{len(missing)} of {len(accepted)} accepted events missing"
        health = running.http.get(running.collector_url + "/healthz").json()
        assert health["spool_bytes"] == 0
