from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from collectors.app import GIF, build_app
from siyu.settings import CollectorSettings, Settings
from tests.fakes import InMemoryProducer

KEY = {"X-Siyu-Key": "demo-write-key"}


@pytest.fixture
def producer() -> InMemoryProducer:
    return InMemoryProducer()


@pytest.fixture
def client_factory(
    tmp_path: Path, producer: InMemoryProducer
) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**collector: Any) -> TestClient:
        settings = Settings(data_dir=tmp_path, collector=CollectorSettings(**collector))
        client = TestClient(build_app(settings, producer)).__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(client_factory: Callable[..., TestClient]) -> TestClient:
    return client_factory()


def _ev(i: int = 0, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"ev-{i}",
        "event": "view_product",
        "time": 1_795_000_000_000,
        "platform": "miniprogram",
        "identities": {"anonymous_id": f"a-{i % 2}"},
        "properties": {"product_id": f"p{i}"},
    }
    event.update(fields)
    return event


def test_mixed_batch_accepts_valid_events_and_dead_letters_the_rest(
    client: TestClient, producer: InMemoryProducer
) -> None:
    batch = [_ev(0), _ev(1, identities={"login_id": "undefined"}), _ev(2), "not an event"]
    answer = client.post("/v1/batch", content=orjson.dumps(batch), headers=KEY)
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 3]
    assert body["rejected"][0]["reason"].startswith("no_identity")
    assert sorted(e.event_id for e in producer.events()) == ["ev-0", "ev-2"]
    dead = producer.dead_letters()
    assert [(d.index, d.project, d.route) for d in dead] == [
        (1, "default", "/v1/batch"),
        (3, "default", "/v1/batch"),
    ]
    assert orjson.loads(dead[0].payload)["event_id"] == "ev-1"
    batches = producer.batches()
    assert {b.key for b in batches} == {"anonymous_id=a-0"}


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        pytest.param({}, {}, 401, id="no-key"),
        pytest.param({"X-Siyu-Key": "wrong"}, {}, 401, id="wrong-key"),
        pytest.param({"X-Siyu-Key": "demo-read-key"}, {}, 401, id="read-key"),
        pytest.param({}, {"key": "demo-write-key"}, 200, id="key-in-query"),
    ],
)
def test_write_key(
    client: TestClient, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    answer = client.post("/v1/batch", content=orjson.dumps([_ev()]), headers=headers, params=params)
    assert answer.status_code == status
    if status == 401:
        assert answer.json()["error"]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
    ],
)
def test_compressed_bodies(
    client: TestClient,
    producer: InMemoryProducer,
    encoding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    body = compress(orjson.dumps({"sent_at": 1_795_000_000_500, "events": [_ev(0), _ev(1)]}))
    answer = client.post("/v1/batch", content=body, headers={**KEY, "Content-Encoding": encoding})
    assert answer.json()["accepted"] == 2
    assert producer.batches()[0].sent_at == 1_795_000_000_500


def test_ndjson_and_sendbeacon_text_plain(client: TestClient, producer: InMemoryProducer) -> None:
    ndjson = b"\n".join(orjson.dumps(_ev(i)) for i in range(3)) + b"\n{broken\n"
    answer = client.post(
        "/v1/batch", content=ndjson, headers={**KEY, "Content-Type": "application/x-ndjson"}
    )
    assert answer.json()["accepted"] == 3
    assert answer.json()["rejected"][0]["index"] == 3
    assert producer.dead_letters()[0].payload == b"{broken"
    beacon = client.post(
        "/v1/batch?key=demo-write-key",
        content=orjson.dumps(_ev(9)),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert beacon.json() == {"accepted": 1, "rejected": []}


def test_pixel_answers_a_gif(client: TestClient, producer: InMemoryProducer) -> None:
    data = base64.urlsafe_b64encode(orjson.dumps(_ev(5, properties={"t": "商品"}))).rstrip(b"=")
    answer = client.get("/v1/pixel.gif", params={"key": "demo-write-key", "data": data.decode()})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/gif"
    assert answer.content == GIF
    assert producer.events()[0].properties == {"t": "商品"}
    assert producer.batches()[0].source == "pixel"


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        pytest.param(b"{nope", {}, 400, "bad_json", id="json"),
        pytest.param(b"\xff\xfe[]", {}, 400, "bad_utf8", id="utf8"),
        pytest.param(b"not gzip", {"Content-Encoding": "gzip"}, 400, "bad_compression", id="gzip"),
        pytest.param(b"x", {"Content-Encoding": "br"}, 415, "bad_encoding", id="encoding"),
        pytest.param(b"42", {}, 400, "bad_shape", id="shape"),
    ],
)
def test_unreadable_body_is_4xx_with_reason_and_dead_lettered(
    client: TestClient,
    producer: InMemoryProducer,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    answer = client.post("/v1/batch", content=body, headers={**KEY, **headers})
    assert answer.status_code == status
    assert answer.json()["code"] == code
    (dead,) = producer.dead_letters()
    assert dead.payload == body
    assert dead.reason.startswith(code)


def test_limits(client_factory: Callable[..., TestClient], producer: InMemoryProducer) -> None:
    client = client_factory(
        max_body_bytes=2048, max_decompressed_bytes=4096, max_events_per_batch=3, max_url_bytes=1024
    )
    big = client.post("/v1/batch", content=b"[" + b" " * 4000 + b"]", headers=KEY)
    assert big.status_code == 413
    bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
    answer = client.post("/v1/batch", content=bomb, headers={**KEY, "Content-Encoding": "gzip"})
    assert answer.status_code == 413
    assert "decompressed" in answer.json()["error"]
    many = client.post("/v1/batch", content=orjson.dumps([_ev(i) for i in range(4)]), headers=KEY)
    assert many.status_code == 413
    url = client.get("/v1/pixel.gif", params={"key": "demo-write-key", "data": "A" * 2000})
    assert url.status_code == 413
    assert not producer.events()


def test_long_get_urls_are_accepted(client: TestClient, producer: InMemoryProducer) -> None:
    ev = _ev(1, properties={"blob": "x" * 12_000, "more": "y" * 12_000})
    data = base64.urlsafe_b64encode(orjson.dumps(ev)).decode()
    assert len(data) > 30_000
    answer = client.get("/v1/pixel.gif", params={"key": "demo-write-key", "data": data})
    assert answer.status_code == 200
    assert producer.events()[0].event_id == "ev-1"


def test_cors_preflight_and_credentials(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory(cors_origins="https://shop.test")
    pre = client.options(
        "/v1/batch",
        headers={
            "Origin": "https://shop.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-siyu-key",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "https://shop.test"
    assert pre.headers["access-control-allow-credentials"] == "true"
    assert "x-siyu-key" in pre.headers["access-control-allow-headers"]
    answer = client.post("/v1/batch", content=b"[]", headers={**KEY, "Origin": "https://shop.test"})
    assert answer.headers["access-control-allow-origin"] == "https://shop.test"
    refused = client.post("/v1/batch", content=b"[]", headers={"Origin": "https://shop.test"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "https://shop.test"
    other = client.options(
        "/sa.gif", headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"}
    )
    assert other.status_code == 403
    assert "access-control-allow-origin" not in other.headers


def test_sensors_routes(client: TestClient, producer: InMemoryProducer) -> None:
    ev = {
        "distinct_id": "c-1",
        "identities": {"$identity_cookie_id": "c-1"},
        "type": "track",
        "event": "$pageview",
        "time": 1_795_000_000_000,
        "_track_id": 7,
        "properties": {},
    }
    data = base64.b64encode(orjson.dumps(ev)).decode()
    gif = client.get("/sa.gif", params={"project": "default", "data": data, "ext": "crc=1"})
    assert gif.status_code == 200
    assert gif.content == GIF
    post = client.post(
        "/sa?project=default",
        content=f"data_list={data}".encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert post.json() == {"accepted": 1, "rejected": []}
    assert {b.source for b in producer.batches()} == {"sensors"}
    # SDK retry of the same event: the same deterministic event id
    assert len({e.event_id for e in producer.events()}) == 1
    unknown = client.get("/sa.gif", params={"project": "nope", "data": data})
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["error"]
    token = client.get("/sa", params={"project": "default", "token": "bad", "data": data})
    assert token.status_code == 401


def test_broker_and_spool_away_is_503_with_retry_after(tmp_path: Path) -> None:
    down = InMemoryProducer(fail=True)
    with TestClient(build_app(Settings(data_dir=tmp_path), down)) as client:
        answer = client.post("/v1/batch", content=orjson.dumps([_ev()]), headers=KEY)
    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) > 0


def test_health_and_metrics(client: TestClient) -> None:
    client.post("/v1/batch", content=orjson.dumps([_ev(), _ev(1, event="")]), headers=KEY)
    assert client.get("/healthz").json()["status"] == "ok"
    text = client.get("/metrics").text
    assert 'siyu_collector_events_total{outcome="accepted",project="default",route="batch"}' in text
    assert 'siyu_collector_rejections_total{reason="no_event_name",route="batch"}' in text
    assert "siyu_collector_request_seconds_bucket" in text
