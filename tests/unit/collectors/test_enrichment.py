from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from collectors.app import build_app
from collectors.enrichment import Enricher, client_ip, parse_networks
from siyu.settings import CollectorSettings, Settings
from tests.fakes import InMemoryProducer
from tests.unit.collectors.xdb import write_xdb

WECHAT_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2b) NetType/WIFI"
)
TRUSTED = parse_networks("10.0.0.0/8, 127.0.0.1")


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        pytest.param("203.0.113.9", "1.2.3.4", "203.0.113.9", id="untrusted-peer-ignored"),
        pytest.param("10.0.0.2", "1.2.3.4", "1.2.3.4", id="trusted-proxy"),
        pytest.param("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.7", "1.2.3.4", id="chain-spoof-left"),
        pytest.param("10.0.0.2", "garbage", "10.0.0.2", id="garbage"),
        pytest.param("10.0.0.2", None, "10.0.0.2", id="no-header"),
    ],
)
def test_client_ip(peer: str, xff: str | None, expected: str) -> None:
    assert client_ip(peer, xff, TRUSTED) == expected


def test_user_agent_is_parsed() -> None:
    out = Enricher().enrich("1.2.3.4", WECHAT_IOS)
    assert out["os"] == "iOS"
    assert out["os_version"] == "17.0"
    assert out["browser"].startswith("WeChat")
    assert out["device"] == "iPhone"
    assert "region" not in out


def test_region_from_an_ip2region_file(tmp_path: Path) -> None:
    db = tmp_path / "ip2region.xdb"
    write_xdb(
        db,
        [
            ("1.0.0.0", "1.0.0.255", "中国|0|广东省|深圳市|电信"),
            ("1.0.1.0", "1.0.3.255", "中国|0|浙江省|杭州市|联通"),
            ("8.8.8.0", "8.8.8.255", "美国|0|0|0|谷歌"),
        ],
    )
    enricher = Enricher(ip2region_db=db)
    sz = enricher.enrich("1.0.0.7", "")
    assert sz == {
        "region": "中国|0|广东省|深圳市|电信",
        "country": "中国",
        "province": "广东省",
        "city": "深圳市",
        "isp": "电信",
    }
    assert enricher.enrich("1.0.2.1", "")["city"] == "杭州市"
    assert enricher.enrich("8.8.8.8", "")["country"] == "美国"
    assert enricher.enrich("9.9.9.9", "") == {}
    assert enricher.enrich("::1", "") == {}


def test_missing_region_file_only_disables_the_region(tmp_path: Path) -> None:
    assert Enricher(ip2region_db=tmp_path / "absent.xdb").enrich("1.0.0.7", "") == {}


def test_events_carry_enrichment_and_the_forwarded_client_ip(tmp_path: Path) -> None:
    db = tmp_path / "ip2region.xdb"
    write_xdb(db, [("1.0.0.0", "1.0.0.255", "中国|0|广东省|深圳市|电信")])
    settings = Settings(
        data_dir=tmp_path,
        collector=CollectorSettings(trusted_proxies="127.0.0.1", ip2region_db=db),
    )
    producer = InMemoryProducer()
    event = {"event": "e", "identities": {"anonymous_id": "a"}, "platform": "h5"}
    with TestClient(build_app(settings, producer), client=("127.0.0.1", 5000)) as client:
        client.post(
            "/v1/batch",
            content=orjson.dumps([event]),
            headers={
                "X-Siyu-Key": "demo-write-key",
                "User-Agent": WECHAT_IOS,
                "X-Forwarded-For": "1.0.0.9",
            },
        )
    (batch,) = producer.batches()
    assert batch.ip == "1.0.0.9"
    assert batch.user_agent == WECHAT_IOS
    enrichment = batch.events[0].enrichment
    assert enrichment["city"] == "深圳市"
    assert enrichment["os"] == "iOS"
