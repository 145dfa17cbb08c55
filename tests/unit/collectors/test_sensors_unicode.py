"""Sensors payloads as the real SDKs encode text: CESU-8, lone surrogates, one bad element.

``sdk_base64`` base64-encodes the bytes of ``sdk_utf8_encode`` (tests/sensors_text.py), as
sa-sdk-miniprogram's ``base64Encode`` does.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from starlette.testclient import TestClient

from collectors.app import build_app
from collectors.decoding import LONE_SURROGATE
from collectors.exceptions import BadBody
from collectors.limits import Limits
from collectors.sensors import parse_sensors
from siyu.settings import Settings
from tests.fakes import InMemoryProducer
from tests.sensors_text import TEXTS, sdk_utf8_encode

NOW = 1_795_000_000_000


def sdk_json(doc: Any) -> str:
    """JSON.stringify: non-ASCII characters as they are (not escaped)."""
    return orjson.dumps(doc).decode()


def sdk_base64(text: str) -> str:
    return base64.b64encode(sdk_utf8_encode(text)).decode()


def _event(i: int, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "identities": {"$identity_mp_id": "d-1"},
        "distinct_id": "d-1",
        "lib": {"$lib": "MiniProgram", "$lib_version": "1.22.7"},
        "properties": {"$lib": "MiniProgram", "n": i},
        "type": "track",
        "event": "share",
        "time": NOW - 1000 + i,
        "_track_id": 1000 + i,
        "_flush_time": NOW,
    }
    event.update(fields)
    return event


def _parse(query: dict[str, str], body: bytes = b"") -> Any:
    return parse_sensors(query, body, received_at=NOW, limits=Limits())


def test_a_mini_program_batch_with_emoji_lands_whole() -> None:
    events = [
        _event(i, event=f"分享_{name}", properties={"title": text, "tags": [text]})
        for i, (name, text) in enumerate(TEXTS.items())
    ]
    body = b"data_list=" + quote(sdk_base64(sdk_json(events)), safe="").encode()
    parsed = _parse({}, body)
    assert not parsed.rejections
    assert [e.event for e in parsed.events] == [f"分享_{name}" for name in TEXTS]
    assert [e.properties["title"] for e in parsed.events] == list(TEXTS.values())
    assert [e.properties["tags"] for e in parsed.events] == [[t] for t in TEXTS.values()]
    assert all(not e.warnings for e in parsed.events)


def test_cesu8_identities_and_property_names_are_decoded_too() -> None:
    ev = _event(0, identities={"$identity_login_id": "用户🐼"}, properties={"喜欢🍜": "是"})
    parsed = _parse({"data": sdk_base64(sdk_json(ev))})
    (event,) = parsed.events
    assert event.identities["login_id"] == "用户🐼"
    assert event.properties == {"喜欢🍜": "是"}


def test_cesu8_inside_gzip_is_decoded() -> None:
    events = [_event(i, properties={"t": TEXTS["zwj"]}) for i in range(3)]
    packed = base64.b64encode(gzip.compress(sdk_utf8_encode(sdk_json(events)))).decode()
    parsed = _parse({}, f"data_list={quote(packed, safe='')}&gzip=1".encode())
    assert [e.properties["t"] for e in parsed.events] == [TEXTS["zwj"]] * 3


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: sdk_utf8_encode(text.replace("CUT", "好\ud83d")), id="cesu8"),
        pytest.param(lambda text: text.replace("CUT", "好\\ud83d").encode(), id="json-escape"),
    ],
)
def test_a_lone_surrogate_is_replaced_with_a_warning(encode: Callable[[str], bytes]) -> None:
    # An emoji cut in half by a client-side substring: its high half is left alone.
    events = [_event(0, properties={"t": "ok"}), _event(1, properties={"t": "CUT"})]
    raw = encode(sdk_json(events))
    parsed = _parse({"data_list": base64.b64encode(raw).decode()})
    assert not parsed.rejections
    assert [e.properties["t"] for e in parsed.events] == ["ok", "好\ufffd"]
    assert parsed.events[0].warnings == ()
    assert LONE_SURROGATE in parsed.events[1].warnings
    assert parsed.warnings == [(1, parsed.events[1].warnings)]


@pytest.mark.parametrize(
    ("element", "code"),
    [
        pytest.param(b'{"event": "x\xff\xfe", "distinct_id": "d"}', "bad_utf8", id="not-utf8"),
        pytest.param(b'{"event": "x", "properties": {"p": NaN}}', "bad_json", id="nan"),
        pytest.param(b'{"event": "x", "properties": {"p": 1,}}', "bad_json", id="trailing-comma"),
    ],
)
def test_one_unreadable_event_of_a_data_list_is_rejected_alone(element: bytes, code: str) -> None:
    good = [
        sdk_json(_event(i, properties={"n": i, "t": TEXTS["emoji"]})).encode() for i in range(3)
    ]
    raw = b"[" + b",".join([good[0], element, good[1], good[2]]) + b"]"
    parsed = _parse({}, b"data_list=" + quote(base64.b64encode(raw)).encode())
    assert [e.properties["n"] for e in parsed.events] == [0, 1, 2]
    (rejection,) = parsed.rejections
    assert (rejection.index, rejection.code) == (1, code)
    # The dead letter keeps the element's bytes as a one-event Sensors form.
    assert rejection.payload.startswith(b"data=")
    assert base64.b64decode(rejection.payload[5:]) == element


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        pytest.param(b"42", "bad_shape", id="number"),
        pytest.param(b'"hello"', "bad_shape", id="string"),
        pytest.param(b'[{"event": "x"}', "bad_json", id="truncated-array"),
        pytest.param(b'{"event": "x\xff"}', "bad_utf8", id="one-event-not-utf8"),
    ],
)
def test_what_is_not_sensors_data_is_refused_whole(doc: bytes, code: str) -> None:
    with pytest.raises(BadBody) as info:
        _parse({"data": base64.b64encode(doc).decode()})
    assert info.value.code == code
    assert info.value.reason


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[TestClient, InMemoryProducer]]:
    producer = InMemoryProducer()
    with TestClient(build_app(Settings(data_dir=tmp_path), producer)) as client:
        yield client, producer


def test_the_answer_lists_per_event_verdicts_and_dead_letters_keep_the_rest(
    app_client: tuple[TestClient, InMemoryProducer],
) -> None:
    client, producer = app_client
    good = [
        sdk_utf8_encode(sdk_json(_event(i, properties={"t": TEXTS["flags"]}))) for i in range(2)
    ]
    bad = b'{"event": "\xff"}'
    raw = b"[" + b",".join([good[0], bad, good[1]]) + b"]"
    body = "data_list=" + quote(base64.b64encode(raw).decode(), safe="")
    answer = client.post(
        "/sa?project=default", content=body, headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 200
    verdict = answer.json()
    assert verdict["accepted"] == 2
    assert [r["index"] for r in verdict["rejected"]] == [1]
    assert verdict["rejected"][0]["reason"].startswith("bad_utf8: ")
    assert [e.properties["t"] for e in producer.events()] == [TEXTS["flags"]] * 2
    (dead,) = producer.dead_letters()
    assert dead.index == 1
    assert base64.b64decode(dead.payload[5:]) == bad
    not_sensors = client.get("/sa.gif", params={"data": base64.b64encode(b"[1").decode()})
    assert not_sensors.status_code == 400
    assert not_sensors.json()["code"] == "bad_json"
