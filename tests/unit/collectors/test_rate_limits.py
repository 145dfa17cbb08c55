"""Rate limits per write key and per client IP: token buckets, 429 + Retry-After."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from collectors.app import build_app
from collectors.rate_limits import Buckets
from siyu.settings import CollectorSettings, Settings
from tests.fakes import InMemoryProducer

KEY = {"X-Siyu-Key": "demo-write-key"}


def test_a_bucket_grants_its_burst_then_refills_at_its_rate() -> None:
    buckets = Buckets(rate=2.0, burst=3.0)
    assert [buckets.take("a", 10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 10.0) == pytest.approx(0.5)  # 1 token at 2/s
    assert buckets.take("b", 10.0) == 0.0  # another key has its own bucket
    assert buckets.take("a", 10.5) == 0.0  # refilled one token in 0.5 s
    assert buckets.take("a", 10.5) == pytest.approx(0.5)
    assert buckets.take("a", 100.0) == 0.0  # never more than the burst
    assert [buckets.take("a", 100.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]


def test_rate_zero_disables_and_keys_held_are_bounded() -> None:
    assert all(Buckets(rate=0, burst=1).take("a", 0.0) == 0.0 for _ in range(100))
    buckets = Buckets(rate=1.0, burst=1.0, max_keys=10)
    for i in range(50):
        buckets.take(f"ip-{i}", 0.0)
    assert len(buckets) == 10


def _limited(reason: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "siyu_collector_rate_limited_total", {"route": "batch", "limit": reason}
        )
        or 0.0
    )


@pytest.mark.parametrize(
    ("limits", "limit"),
    [
        ({"rate_per_ip": 0.001, "burst_per_ip": 2, "rate_per_key": 0}, "ip"),
        ({"rate_per_key": 0.001, "burst_per_key": 2, "rate_per_ip": 0}, "key"),
    ],
)
def test_requests_over_a_limit_get_429_with_retry_after_and_are_counted(
    tmp_path: Path, limits: dict[str, Any], limit: str
) -> None:
    producer = InMemoryProducer()
    settings = Settings(data_dir=tmp_path, collector=CollectorSettings(**limits))
    before = _limited(limit)
    with TestClient(build_app(settings, producer)) as client:

        def send(i: int) -> Any:
            event = {
                "event_id": f"rl-{i}",
                "event": "view",
                "platform": "h5",
                "identities": {"anonymous_id": "a"},
            }
            return client.post("/v1/batch", content=orjson.dumps([event]), headers=KEY)

        answers = [send(i) for i in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429, 429]
    refused = answers[2]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["code"] == "rate_limited"
    assert _limited(limit) == before + 3
    assert [e.event_id for b in producer.batches() for e in b.events] == ["rl-0", "rl-1"]


def test_default_limits_let_ordinary_traffic_through(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    event = {
        "event_id": "x",
        "event": "view",
        "platform": "h5",
        "identities": {"anonymous_id": "a"},
    }
    with TestClient(build_app(settings, InMemoryProducer())) as client:
        codes = {
            client.post("/v1/batch", content=orjson.dumps([event]), headers=KEY).status_code
            for _ in range(200)
        }
    assert codes == {200}
