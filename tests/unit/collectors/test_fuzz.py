"""Fuzz every collector route: never a 5xx, never a crash, every rejection has a reason.

In-process (Starlette TestClient, in-memory producer); thousands of cases in all.
"""

from __future__ import annotations

import base64
import gzip
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from collectors.app import build_app
from siyu.settings import CollectorSettings, Settings
from tests.fakes import InMemoryProducer

FUZZ = settings(
    max_examples=400,  # per route; CI time is shared with the stack tests
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

producer = InMemoryProducer()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    s = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz"),
        collector=CollectorSettings(
            max_body_bytes=65_536,
            max_decompressed_bytes=131_072,
            max_events_per_batch=50,
            max_properties=20,
            max_depth=4,
            max_value_bytes=256,
        ),
    )
    with TestClient(build_app(s, producer), raise_server_exceptions=True) as c:
        yield c


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(
        ["", "null", "undefined", "0", "NaN", "[object Object]", "12.5", "1795000000000"]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
identity_keys = st.sampled_from(
    [
        "anonymous_id",
        "login_id",
        "wx_openid:wx1",
        "cookie_id",
        "",
        "$identity_login_id",
        "$identity_mp_wx1_openid",
        "x" * 200,
    ]
)
events = st.fixed_dictionaries(
    {},
    optional={
        "event_id": json_values,
        "type": st.sampled_from(["track", "profile_set", "item_set", "identify", "bogus", ""])
        | json_values,
        "event": st.text(max_size=40) | json_values,
        "time": st.integers() | st.text(max_size=20) | scalars,
        "platform": st.sampled_from(["h5", "miniprogram", "app", "web", "fax"]) | json_values,
        "identities": st.dictionaries(identity_keys, scalars, max_size=4) | json_values,
        "properties": st.dictionaries(st.text(max_size=30), json_values, max_size=25) | json_values,
        "context": st.dictionaries(st.text(max_size=10), json_values, max_size=4) | json_values,
        "distinct_id": json_values,
        "anonymous_id": json_values,
        "login_id": json_values,
        "original_id": json_values,
        "_track_id": json_values,
        "_flush_time": json_values,
        "item_type": json_values,
        "lib": json_values,
    },
)
documents = (
    st.lists(events | json_values, max_size=8)
    | st.fixed_dictionaries({"sent_at": scalars, "events": st.lists(events, max_size=8)})
    | events
    | json_values
)


def _check(answer: Any, *, gif: bool = False) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code != 200:
        error = answer.json()["error"]
        assert set(error) == {"code", "message"}
        assert error["code"]
        assert error["message"]
        return
    if gif:
        assert answer.headers["content-type"] == "image/gif"
        return
    body = answer.json()
    assert all(r["reason"] for r in body["rejected"])
    dead = producer.dead_letters()
    assert {d.index for d in dead} == {r["index"] for r in body["rejected"]}
    assert all(d.reason for d in dead)
    assert body["accepted"] == len(producer.events())


def _encode(doc: Any) -> bytes:
    # The stdlib writes what orjson refuses (integers past 64 bits, Infinity): more to fuzz.
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


@FUZZ
@given(
    doc=documents,
    ctype=st.sampled_from(["application/json", "text/plain", "application/x-ndjson", ""]),
    compress=st.sampled_from([None, "gzip", "deflate", "br"]),
    raw=st.none() | st.binary(),
)
def test_batch_route(
    client: TestClient, doc: Any, ctype: str, compress: str | None, raw: bytes | None
) -> None:
    producer.clear()
    body = raw if raw is not None else _encode(doc)
    headers = {"X-Siyu-Key": "demo-write-key", "Content-Type": ctype}
    if compress == "gzip":
        body = gzip.compress(body)
    if compress:
        headers["Content-Encoding"] = compress
    _check(client.post("/v1/batch", content=body, headers=headers))


@FUZZ
@given(
    doc=documents,
    mangle=st.sampled_from(["urlsafe", "standard", "garbage", "none"]),
    garbage=st.text(max_size=50),
)
def test_pixel_route(client: TestClient, doc: Any, mangle: str, garbage: str) -> None:
    producer.clear()
    encoded = _encode(doc)
    data = {
        "urlsafe": base64.urlsafe_b64encode(encoded).decode().rstrip("="),
        "standard": base64.b64encode(encoded).decode(),
        "garbage": garbage,
        "none": "",
    }[mangle]
    _check(client.get("/v1/pixel.gif", params={"key": "demo-write-key", "data": data}), gif=True)


@FUZZ
@given(
    doc=documents,
    field=st.sampled_from(["data", "data_list"]),
    gz=st.booleans(),
    where=st.sampled_from(["form", "query", "json", "junk"]),
    junk=st.binary(max_size=200),
    path=st.sampled_from(["/sa", "/sa.gif"]),
    method=st.sampled_from(["GET", "POST"]),
    project=st.sampled_from(["default", "", "nope"]),
)
def test_sensors_routes(
    client: TestClient,
    doc: Any,
    field: str,
    gz: bool,
    where: str,
    junk: bytes,
    path: str,
    method: str,
    project: str,
) -> None:
    producer.clear()
    encoded = _encode(doc)
    b64 = base64.b64encode(gzip.compress(encoded) if gz else encoded).decode()
    params = {"project": project} if project else {}
    body = b""
    if where == "query":
        params |= {field: b64, **({"gzip": "1"} if gz else {})}
    elif where == "form":
        body = f"{field}={quote(b64, safe='')}{'&gzip=1' if gz else ''}&ext=crc%3D1".encode()
    elif where == "json":
        body = encoded
    else:
        body = junk
    if method == "GET":
        answer = client.get(path, params=params)
    else:
        answer = client.post(
            path, params=params, content=body, headers={"Content-Type": "text/plain"}
        )
    _check(answer, gif=method == "GET")


def test_memory_stays_flat(client: TestClient, tmp_path: Path) -> None:
    bad = b'[{"event": "e", "identities": {"anonymous_id": "a"}}, {"x": 1}, 5]'
    tracemalloc.start()
    try:
        for _ in range(300):
            producer.clear()
            client.post("/v1/batch", content=bad, headers={"X-Siyu-Key": "demo-write-key"})
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(1500):
            producer.clear()
            client.post("/v1/batch", content=bad, headers={"X-Siyu-Key": "demo-write-key"})
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 1_000_000, f"grew by {after - before} bytes over 1500 requests"
