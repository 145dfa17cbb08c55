from __future__ import annotations

import base64
import gzip
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from collectors.exceptions import BadBody
from collectors.limits import Limits
from collectors.sensors import map_event, parse_sensors, sensors_identity

NOW = 1_795_000_000_000


def _sa(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "identities": {"$identity_cookie_id": "c-1"},
        "distinct_id": "c-1",
        "anonymous_id": "c-1",
        "lib": {"$lib": "js", "$lib_method": "code", "$lib_version": "1.27.11"},
        "properties": {"$lib": "js", "$url": "https://shop.test/a", "$title": "A"},
        "type": "track",
        "event": "$pageview",
        "time": NOW - 2000,
        "_track_id": 123456,
        "_flush_time": NOW - 1000,
    }
    event.update(fields)
    return event


def _b64(doc: Any, *, gz: bool = False) -> str:
    raw = orjson.dumps(doc)
    return base64.b64encode(gzip.compress(raw) if gz else raw).decode()


def _parse(query: dict[str, str], body: bytes = b"") -> Any:
    return parse_sensors(query, body, received_at=NOW, limits=Limits())


@pytest.mark.parametrize(
    ("key", "app_id", "expected"),
    [
        ("$identity_login_id", "", "login_id"),
        ("$identity_anonymous_id", "", "anonymous_id"),
        ("$identity_cookie_id", "", "cookie_id"),
        ("$identity_mp_wx1234_openid", "", "wx_openid:wx1234"),
        ("$identity_mp_openid", "wx99", "wx_openid:wx99"),
        ("$identity_mp_openid", "", "wx_openid"),
        ("$identity_mp_unionid", "", "wx_unionid"),
        ("$identity_mobile", "", "mobile"),
        ("$identity_login_phone", "", "mobile"),
        ("$identity_mp_id", "", "device_id"),
        ("$identity_email", "", "email"),
        ("member_no", "", "member_no"),
    ],
)
def test_identity_keys_map_onto_siyu_types(key: str, app_id: str, expected: str) -> None:
    assert sensors_identity(key, app_id=app_id) == expected


def test_event_id_is_deterministic_from_track_id_distinct_id_and_time() -> None:
    a, _ = map_event(_sa())
    b, _ = map_event(_sa(properties={"$url": "other"}))
    c, _ = map_event(_sa(_track_id=654321))
    assert a["event_id"] == b["event_id"] != c["event_id"]
    assert a["event_id"].startswith("sa-")


def test_mapping_of_a_mini_program_event() -> None:
    ev = _sa(
        identities={"$identity_mp_id": "d-1", "$identity_mp_wx1234_openid": "o-1"},
        distinct_id="d-1",
        anonymous_id="d-1",
        lib={"$lib": "MiniProgram", "$lib_version": "1.22.7"},
        event="$MPViewScreen",
        properties={
            "$scene": "wx-1007",
            "$share_distinct_id": "sharer-1",
            "$share_depth": 2,
            "$share_url_path": "/pages/item",
            "$utm_source": "moments",
            "$url_path": "/pages/item",
        },
    )
    native, sent_at = map_event(ev)
    assert sent_at == NOW - 1000
    assert native["platform"] == "miniprogram"
    assert native["identities"] == {"device_id": "d-1", "wx_openid:wx1234": "o-1"}
    assert native["context"]["scene"] == 1007
    assert native["context"]["share"] == {"sharer": "sharer-1", "depth": 2, "path": "/pages/item"}
    assert native["context"]["utm"] == {"source": "moments"}
    assert native["properties"]["$url_path"] == "/pages/item"


def test_login_and_signup_identities() -> None:
    logged_in, _ = map_event(
        _sa(
            identities={"$identity_cookie_id": "c-1", "$identity_login_id": "u-9"},
            distinct_id="u-9",
            login_id="u-9",
        )
    )
    assert logged_in["identities"] == {"cookie_id": "c-1", "login_id": "u-9"}
    signup, _ = map_event(
        {
            "type": "track_signup",
            "event": "$SignUp",
            "distinct_id": "u-9",
            "original_id": "c-1",
            "time": NOW,
            "properties": {},
        }
    )
    assert signup["identities"] == {"anonymous_id": "c-1", "login_id": "u-9"}
    assert signup["type"] == "track_signup"
    old_sdk, _ = map_event({"distinct_id": "x-1", "event": "e", "time": NOW, "properties": {}})
    assert old_sdk["identities"] == {"anonymous_id": "x-1"}


def test_skew_is_corrected_with_flush_time() -> None:
    parsed = _parse({"data": _b64(_sa(time=NOW + 3_600_000 - 500, _flush_time=NOW + 3_600_000))})
    assert parsed.events[0].time == NOW - 500
    assert parsed.events[0].client_time == NOW + 3_600_000 - 500


@pytest.mark.parametrize(
    ("query", "body"),
    [
        pytest.param({"data": "B64"}, b"", id="image-get"),
        pytest.param({}, b"data=QB64&ext=crc%3D1", id="ajax-form"),
        pytest.param({}, b"data_list=QB64LIST", id="batch-form"),
        pytest.param({}, b"data_list=QGZLIST&gzip=1", id="mini-program-gzip"),
        pytest.param({"gzip": "1"}, b"data_list=QGZLIST", id="gzip-in-query"),
        pytest.param({}, b"JSON", id="plain-json"),
    ],
)
def test_every_sdk_body_shape(query: dict[str, str], body: bytes) -> None:
    ev = _sa()
    subst = {
        "B64": _b64(ev),
        "QB64LIST": quote(_b64([ev, ev]), safe=""),
        "QB64": quote(_b64(ev), safe=""),
        "QGZLIST": quote(_b64([ev, ev], gz=True), safe=""),
        "JSON": orjson.dumps([ev]).decode(),
    }
    query = {k: subst.get(v, v) for k, v in query.items()}
    text = body.decode()
    for marker in sorted(subst, key=len, reverse=True):
        text = text.replace(marker, subst[marker])
    parsed = _parse(query, text.encode())
    assert parsed.events
    assert not parsed.rejections
    assert all(e.identities == {"cookie_id": "c-1"} for e in parsed.events)


def test_base64_with_plus_turned_into_space_still_decodes() -> None:
    ev = _sa(properties={"$title": "商品详情>>>???"})
    data = _b64(ev)
    assert "+" in data or "/" in data
    parsed = _parse({"data": data.replace("+", " ")})
    assert parsed.events[0].properties["$title"] == "商品详情>>>???"


@pytest.mark.parametrize(
    ("query", "body", "code"),
    [
        pytest.param({}, b"", "no_data", id="nothing"),
        pytest.param({"data": "%%%"}, b"", "bad_base64", id="base64"),
        pytest.param({"data": base64.b64encode(b"{nope").decode()}, b"", "bad_json", id="json"),
        pytest.param({"data": "aGVsbG8=", "gzip": "1"}, b"", "bad_compression", id="gzip"),
        pytest.param({}, b"\xff\xfe", "bad_utf8", id="utf8"),
        pytest.param({}, b"foo=bar", "no_data", id="other-form"),
    ],
)
def test_unreadable_bodies_have_a_reason(query: dict[str, str], body: bytes, code: str) -> None:
    with pytest.raises(BadBody) as info:
        _parse(query, body)
    assert info.value.code == code
    assert info.value.reason


def test_rejected_sensors_event_keeps_the_original_payload() -> None:
    bad = _sa(identities={}, distinct_id=None, anonymous_id=None)
    parsed = _parse({"data_list": _b64([_sa(), bad])})
    assert len(parsed.events) == 1
    (rejection,) = parsed.rejections
    assert rejection.index == 1
    assert rejection.code == "no_identity"
    assert orjson.loads(rejection.payload)["_track_id"] == 123456
