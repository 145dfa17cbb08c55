"""Every Sensors record type, and the app SDKs' request form.

The app requests are built as sa-sdk-android (``AnalyticsMessages.sendHttpRequest``:
a form ``crc=<String.hashCode>&gzip=1&data_list=<base64 of gzip>``, URL-encoded by
``Uri.Builder``) and sa-sdk-ios (``SAFlushHTTPBodyInterceptor``: the same fields, the
base64 percent-encoded with only letters and digits left as they are) write them;
``gzip=9`` is their encrypted form.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from collectors.exceptions import BadBody
from collectors.limits import Limits
from collectors.sensors import parse_sensors

NOW = 1_795_000_000_000
ANDROID_ID = "5f3e2a1b9c8d7e6f"


def _android(i: int, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "_track_id": 7000 + i,
        "time": NOW - 5000 + i,
        "type": "track",
        "distinct_id": ANDROID_ID,
        "anonymous_id": ANDROID_ID,
        "identities": {"$identity_android_id": ANDROID_ID},
        "lib": {
            "$lib": "Android",
            "$lib_version": "6.8.0",
            "$app_version": "2.1.0",
            "$lib_method": "autoTrack",
        },
        "properties": {
            "$os": "Android",
            "$os_version": "14",
            "$model": "Pixel 8",
            "$app_version": "2.1.0",
            "$lib": "Android",
            "$lib_version": "6.8.0",
            "$network_type": "WIFI",
            "$carrier": "中国移动",
            "$timezone_offset": -480,
        },
        "_flush_time": NOW - 100,
    }
    event.update(fields)
    return event


def _java_hash(text: str) -> int:
    h = 0
    for ch in text:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def _android_body(events: list[dict[str, Any]]) -> bytes:
    data = base64.b64encode(gzip.compress(orjson.dumps(events))).decode()
    return f"crc={_java_hash(data)}&gzip=1&data_list={quote(data, safe='')}".encode()


def _ios_body(events: list[dict[str, Any]], *, gz: str = "1") -> bytes:
    data = base64.b64encode(gzip.compress(orjson.dumps(events))).decode()
    return f"crc={_java_hash(data)}&gzip={gz}&data_list={quote(data, safe='')}".encode()


def _parse(body: bytes, query: dict[str, str] | None = None) -> Any:
    return parse_sensors(query or {}, body, received_at=NOW, limits=Limits())


def test_an_android_batch_of_app_events_lands_on_platform_app() -> None:
    events = [
        _android(0, event="$AppStart", properties={"$is_first_time": False}),
        _android(1, event="$AppViewScreen", properties={"$screen_name": "Main", "$title": "首页"}),
        _android(2, event="$AppClick", properties={"$element_content": "购买"}),
        _android(3, event="$AppEnd", properties={"event_duration": 12.5}),
    ]
    parsed = _parse(_android_body(events))
    assert not parsed.rejections
    assert [e.event for e in parsed.events] == [
        "$AppStart",
        "$AppViewScreen",
        "$AppClick",
        "$AppEnd",
    ]
    assert {e.platform for e in parsed.events} == {"app"}
    assert {e.lib_name for e in parsed.events} == {"Android"}
    assert all(e.identities == {"device_id": ANDROID_ID} for e in parsed.events)
    assert parsed.events[1].properties["$title"] == "首页"
    assert parsed.sent_at == NOW - 100


def test_an_ios_batch_lands_and_app_events_are_app_whatever_the_lib() -> None:
    idfv = "1E2D3C4B-5A69-7887-96A5-B4C3D2E1F000"
    events = [
        {
            "_track_id": 1,
            "time": NOW - 2000,
            "type": "track",
            "event": "$AppStart",
            "distinct_id": idfv,
            "identities": {"$identity_idfv": idfv},
            "lib": {"$lib": "Flutter", "$lib_version": "3.0.0"},
            "properties": {"$os": "iOS"},
        },
        {
            "_track_id": 2,
            "time": NOW - 1000,
            "type": "track",
            "event": "$AppViewScreen",
            "distinct_id": idfv,
            "identities": {"$identity_idfv": idfv},
            "lib": {},
            "properties": {"$screen_name": "Cart"},
        },
    ]
    parsed = _parse(_ios_body(events))
    assert [e.platform for e in parsed.events] == ["app", "app"]
    assert all(
        e.identities == {"device_id": idfv.lower()} or e.identities == {"device_id": idfv}
        for e in parsed.events
    )


def test_an_encrypted_app_body_is_refused_with_the_reason() -> None:
    with pytest.raises(BadBody) as info:
        _parse(_ios_body([_android(0, event="$AppStart")], gz="9"))
    assert info.value.code == "encrypted"
    assert "gzip=9" in info.value.reason


def test_a_plain_json_data_list_is_read() -> None:
    events = [_android(0, event="$AppStart")]
    body = f"crc=1&gzip=0&data_list={quote(orjson.dumps(events).decode(), safe='')}".encode()
    (event,) = _parse(body).events
    assert event.event == "$AppStart"


def test_every_record_type_maps_onto_its_native_type() -> None:
    login = "member-42"
    ids = {"$identity_android_id": ANDROID_ID, "$identity_login_id": login}
    records = [
        _android(0, event="view_product", properties={"product_id": "p1", "price": 12.5}),
        _android(
            1,
            type="track_signup",
            event="$SignUp",
            distinct_id=login,
            login_id=login,
            original_id=ANDROID_ID,
            identities=ids,
        ),
        _android(
            2,
            type="track_id_bind",
            event="$BindID",
            identities={**ids, "$identity_email": "a@shop.test"},
        ),
        _android(
            3,
            type="track_id_unbind",
            event="$UnbindID",
            identities={"$identity_email": "a@shop.test"},
        ),
        _android(
            4,
            type="profile_set",
            identities=ids,
            properties={"vip": True, "city": "深圳", "$is_login_id": True},
        ),
        _android(
            5, type="profile_set_once", identities=ids, properties={"first_channel": "小红书"}
        ),
        _android(6, type="profile_increment", identities=ids, properties={"points": 10}),
        _android(
            7, type="profile_append", identities=ids, properties={"interests": ["跑步", "咖啡"]}
        ),
        _android(8, type="profile_unset", identities=ids, properties={"city": True}),
        _android(9, type="profile_delete", identities=ids, properties={}),
        {
            "type": "item_set",
            "item_type": "article",
            "item_id": "a-101",
            "properties": {"content_tags": ["running", "shoes"], "title": "跑步入门"},
            "time": NOW - 10,
            "lib": {"$lib": "Android"},
        },
        {"type": "item_delete", "item_type": "article", "item_id": "a-7", "time": NOW - 9},
    ]
    parsed = _parse(_android_body(records))
    assert not parsed.rejections
    got = {e.type: e for e in parsed.events}
    assert list(got) == [r["type"] for r in records]
    assert got["track"].event == "view_product"
    assert got["track_signup"].identities == {"device_id": ANDROID_ID, "login_id": login}
    assert got["track_id_bind"].identities == {
        "device_id": ANDROID_ID,
        "login_id": login,
        "email": "a@shop.test",
    }
    # Unbinding removes exactly what the SDK listed, never the device's own id.
    assert got["track_id_unbind"].identities == {"email": "a@shop.test"}
    # Profile records carry exactly the user properties the SDK was given.
    assert got["profile_set"].properties == {"vip": True, "city": "深圳"}
    assert got["profile_set_once"].properties == {"first_channel": "小红书"}
    assert got["profile_increment"].properties == {"points": 10}
    assert got["profile_append"].properties == {"interests": ["跑步", "咖啡"]}
    assert got["profile_unset"].properties == {"city": True}
    assert got["profile_delete"].properties == {}
    assert all(got[t].identities["login_id"] == login for t in got if t.startswith("profile_"))
    assert got["item_set"].context["item"] == {"type": "article", "id": "a-101"}
    assert got["item_set"].identities == {}
    assert got["item_delete"].context["item"] == {"type": "article", "id": "a-7"}


@pytest.mark.parametrize(
    ("record", "code"),
    [
        pytest.param({"type": "profile_merge"}, "unknown_type", id="unknown-type"),
        pytest.param({"type": "identify"}, "unknown_type", id="native-only-type"),
        pytest.param({"properties": ["a"]}, "bad_properties", id="properties-not-object"),
        pytest.param({"identities": "abc"}, "bad_identities", id="identities-not-object"),
        pytest.param({"time": "yesterday"}, "bad_time", id="bad-time"),
        pytest.param({"event": ""}, "no_event_name", id="no-event-name"),
        pytest.param(
            {"type": "item_set", "item_type": "article", "item_id": ""}, "bad_item", id="no-item-id"
        ),
        pytest.param({"type": "item_delete", "item_id": "a-1"}, "bad_item", id="no-item-type"),
    ],
)
def test_a_record_with_a_bad_field_is_rejected_alone(record: dict[str, Any], code: str) -> None:
    events = [
        _android(0, event="ok_1"),
        _android(1, **({"event": "bad"} | record)),
        _android(2, event="ok_2"),
    ]
    parsed = _parse(_android_body(events))
    assert [e.event for e in parsed.events] == ["ok_1", "ok_2"]
    (rejection,) = parsed.rejections
    assert (rejection.index, rejection.code) == (1, code)
    assert orjson.loads(rejection.payload)["_track_id"] == 7001
