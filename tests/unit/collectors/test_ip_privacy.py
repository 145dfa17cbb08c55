"""Stored client IPs follow SIYU_PRIVACY_IP: kept, truncated or hashed."""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.testclient import TestClient

from collectors.app import build_app
from collectors.ip_privacy import IpPolicy
from siyu.settings import CollectorSettings, PrivacySettings, Settings
from tests.fakes import InMemoryProducer


def test_truncate_keeps_the_network_only() -> None:
    policy = IpPolicy("truncate", "s")
    assert policy("203.0.113.77") == "203.0.113.0"
    assert policy("2001:db8:abcd:1234::1") == "2001:db8:abcd::"
    assert policy("not-an-ip") == ""
    assert policy("") == ""


def test_hash_is_stable_salted_and_not_the_address() -> None:
    a, b = IpPolicy("hash", "salt-a"), IpPolicy("hash", "salt-b")
    assert a("203.0.113.77") == a("203.0.113.77")
    assert a("203.0.113.77") != a("203.0.113.78")
    assert a("203.0.113.77") != b("203.0.113.77")
    assert "203.0.113" not in a("203.0.113.77")
    assert IpPolicy("keep", "s")("203.0.113.77") == "203.0.113.77"


def test_the_collector_stores_the_ip_as_configured(tmp_path: Path) -> None:
    stored = {}
    for mode in ("keep", "truncate", "hash"):
        producer = InMemoryProducer()
        settings = Settings(
            data_dir=tmp_path,
            collector=CollectorSettings(trusted_proxies="10.0.0.0/8"),
            privacy=PrivacySettings(ip=mode),
        )
        event = {
            "event_id": f"ip-{mode}",
            "event": "view",
            "platform": "h5",
            "identities": {"anonymous_id": "a"},
        }
        with TestClient(build_app(settings, producer), client=("10.0.0.1", 5000)) as client:
            answer = client.post(
                "/v1/batch",
                content=orjson.dumps([event]),
                headers={"X-Siyu-Key": "demo-write-key", "X-Forwarded-For": "198.51.100.23"},
            )
        assert answer.status_code == 200
        (batch,) = producer.batches()
        stored[mode] = batch.ip
    assert stored["keep"] == "198.51.100.23"
    assert stored["truncate"] == "198.51.100.0"
    assert stored["hash"] == IpPolicy("hash", "siyu-demo-ip-salt")("198.51.100.23")
