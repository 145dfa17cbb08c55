"""Pure parsing of the Sensors Data wire format (``/sa``, ``/sa.gif``) into siyu events.

What the real SDKs send (sa-sdk-javascript 1.27, sa-sdk-miniprogram 1.22, server SDKs):
``data=<base64 JSON event>`` or ``data_list=<base64 JSON array>`` as a query string (image
GET) or as a form body whatever the content type (ajax, sendBeacon ``text/plain``, the
mini-program's ``wx.request``); ``gzip=1`` means the base64 holds gzip bytes; ``crc`` /
``ext`` are ignored; plain JSON bodies are accepted too. Each Sensors event is mapped onto
the native envelope and then normalized exactly like a native event.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import orjson

from collectors.decoding import load_json
from collectors.envelope import Rejection, normalize
from collectors.exceptions import BadBody
from collectors.limits import Limits
from collectors.parsing import Parsed, decode_base64, inflate
from schemas.records import TrackEvent

__all__ = [
    "SENSORS_IDENTITY_KEYS",
    "SENSORS_TYPES",
    "map_event",
    "parse_sensors",
    "sensors_identity",
    "sensors_payload",
]

# Sensors identity keys → siyu identity types, so both formats stitch into the same user.
SENSORS_IDENTITY_KEYS = {
    "$identity_login_id": "login_id",
    "$identity_anonymous_id": "anonymous_id",
    "$identity_cookie_id": "cookie_id",
    "$identity_mp_unionid": "wx_unionid",
    "$identity_mobile": "mobile",
    "$identity_login_phone": "mobile",
    "$identity_mp_id": "device_id",
    "$identity_mp_openid": "wx_openid",
    # App SDKs (ID-Mapping 3): the device's own id, whichever the platform gives.
    "$identity_android_id": "device_id",
    "$identity_android_uuid": "device_id",
    "$identity_idfv": "device_id",
    "$identity_ios_uuid": "device_id",
}
# The record types Sensors SDKs send (all of them are native types too).
SENSORS_TYPES = frozenset(
    {
        "track",
        "track_signup",
        "track_id_bind",
        "track_id_unbind",
        "profile_set",
        "profile_set_once",
        "profile_increment",
        "profile_append",
        "profile_unset",
        "profile_delete",
        "item_set",
        "item_delete",
    }
)
_PROFILE_TYPES = frozenset(t for t in SENSORS_TYPES if t.startswith("profile_"))
# Markers SDKs add to a profile record's properties that describe the record (the
# distinct id is a login id), not the user: not applied as user properties.
_PROFILE_MARKERS = frozenset({"$is_login_id"})
# Events only the app SDKs (Android, iOS, and their cross-platform wrappers) send.
_APP_EVENTS = frozenset({"$AppStart", "$AppEnd", "$AppViewScreen", "$AppClick", "$AppInstall"})
_MP_OPENID = re.compile(r"^\$identity_mp_(.+)_openid$")
_TRAILING_NUMBER = re.compile(r"(\d+)$")
_SHARE_FIELDS = {
    "$share_distinct_id": "sharer",
    "$share_depth": "depth",
    "$share_url_path": "path",
    "$share_method": "method",
}
_UTM_FIELDS = ("source", "medium", "campaign", "content", "term")


def sensors_identity(key: str, *, app_id: str = "") -> str:
    """The siyu identity key of a Sensors one: ``$identity_mp_wx1_openid`` → ``wx_openid:wx1``."""
    mapped = SENSORS_IDENTITY_KEYS.get(key)
    if mapped == "wx_openid":
        return f"wx_openid:{app_id}" if app_id else mapped
    if mapped:
        return mapped
    m = _MP_OPENID.match(key)
    if m:
        return f"wx_openid:{m.group(1)}"
    return key.removeprefix("$identity_").lstrip("$") or key


def _platform(lib: str, event: Any) -> str:
    if isinstance(event, str) and event in _APP_EVENTS:
        return "app"
    name = lib.lower()
    if name in ("js", "web", "h5"):
        return "h5"
    if "mini" in name or name in ("quickapp", "mp"):
        return "miniprogram"
    if name in ("android", "ios", "flutter", "reactnative", "react native", "harmonyos", "unity"):
        return "app"
    return "server"


def _event_id(ev: Mapping[str, Any]) -> str:
    """Deterministic id from ``_track_id``, ``distinct_id`` and ``time``: SDK retries dedupe."""
    track_id = ev.get("_track_id")
    if track_id is not None:
        basis = orjson.dumps([str(track_id), str(ev.get("distinct_id")), str(ev.get("time"))])
    else:
        basis = orjson.dumps(ev, option=orjson.OPT_SORT_KEYS)
    return "sa-" + hashlib.blake2b(basis, digest_size=16).hexdigest()


def _identities(ev: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    app_id = properties.get("$app_id")
    app_id = app_id if isinstance(app_id, str) else ""
    out: dict[str, Any] = {}
    raw = ev.get("identities")
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            out.setdefault(sensors_identity(str(key), app_id=app_id), value)
    if ev.get("type") == "track_id_unbind":
        return out  # exactly the identities to unbind, never the device's own ids
    present = {str(v) for v in out.values() if v is not None}
    login_id, anonymous_id = ev.get("login_id"), ev.get("anonymous_id")
    if login_id is not None and str(login_id) not in present:
        out.setdefault("login_id", login_id)
    if anonymous_id is not None and str(anonymous_id) not in present:
        out.setdefault("anonymous_id", anonymous_id)
    original_id = ev.get("original_id")  # track_signup: the anonymous id before login
    if original_id is not None and str(original_id) not in present:
        out.setdefault("anonymous_id", original_id)
    present = {str(v) for v in out.values() if v is not None}
    distinct_id = ev.get("distinct_id")
    if distinct_id is not None and str(distinct_id) not in present:
        logged_in = (
            ev.get("login_id") is not None
            or properties.get("$is_login_id") is True
            or ev.get("type") == "track_signup"  # distinct_id is the new login id
        )
        out.setdefault("login_id" if logged_in else "anonymous_id", distinct_id)
    return out


def _context(
    ev: Mapping[str, Any], properties: Mapping[str, Any], lib: Mapping[str, Any]
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "lib": {
            "name": str(lib.get("$lib") or properties.get("$lib") or "sensors"),
            "version": str(lib.get("$lib_version") or properties.get("$lib_version") or ""),
            "method": str(lib.get("$lib_method", "")),
        },
        "sensors": {
            "distinct_id": ev.get("distinct_id"),
            "track_id": ev.get("_track_id"),
            "flush_time": ev.get("_flush_time"),
        },
    }
    scene = properties.get("$scene")
    if isinstance(scene, (int, str)) and not isinstance(scene, bool):
        m = _TRAILING_NUMBER.search(str(scene))
        context["scene"] = int(m.group(1)) if m and len(m.group(1)) < 10 else scene
    share = {field: properties[key] for key, field in _SHARE_FIELDS.items() if key in properties}
    if share.get("sharer") not in (None, ""):
        context["share"] = share
    utm = {f: properties[f"$utm_{f}"] for f in _UTM_FIELDS if f"$utm_{f}" in properties}
    if utm:
        context["utm"] = utm
    if ev.get("item_type") is not None or ev.get("item_id") is not None:
        context["item"] = {"type": ev.get("item_type"), "id": ev.get("item_id")}
    return context


def map_event(ev: Any) -> tuple[Any, int | None]:
    """One Sensors event → (native raw event, its send time ``_flush_time`` or None).

    Anything that is not an object is passed through for :func:`normalize` to reject.
    """
    if not isinstance(ev, dict):
        return ev, None
    properties = ev.get("properties")
    if properties is None:
        properties = {}
    lib = ev.get("lib")
    if not isinstance(lib, dict):
        lib = {}
    etype = ev.get("type", "track")
    identities = ev.get("identities")
    known = isinstance(etype, str) and etype in SENSORS_TYPES
    if (
        not known
        or not isinstance(properties, dict)
        or (identities is not None and not isinstance(identities, dict))
    ):
        # Left as sent: normalize rejects the record, naming the field.
        if not known:  # "identify" is native, not Sensors
            etype = f"sensors:{str(etype)[:48]}"
        bad = {"type": etype, "event": ev.get("event") or "", "properties": properties}
        return {"event_id": _event_id(ev), **bad, "identities": identities}, None
    flush = ev.get("_flush_time")
    sent_at = (
        flush if isinstance(flush, int) and not isinstance(flush, bool) and flush > 0 else None
    )
    lib_name = str(lib.get("$lib") or properties.get("$lib") or "")
    identities = _identities(ev, properties)
    if etype in _PROFILE_TYPES and not _PROFILE_MARKERS.isdisjoint(properties):
        # What is left are the user properties to apply, exactly as the SDK was given them.
        properties = {k: v for k, v in properties.items() if k not in _PROFILE_MARKERS}
    native = {
        "event_id": _event_id(ev),
        "type": etype,
        "event": ev.get("event") or "",
        "time": ev.get("time"),
        "platform": _platform(lib_name, ev.get("event")),
        "identities": identities,
        "properties": properties,
        "context": _context(ev, properties, lib),
    }
    return native, sent_at


def _form_payload(fields: Mapping[str, str]) -> tuple[str, str] | None:
    for name in ("data_list", "data"):
        value = fields.get(name)
        if value:
            return value, fields.get("gzip", "")
    return None


def sensors_payload(query: Mapping[str, str], body: bytes) -> tuple[str | bytes, str, bool]:
    """Where the events are: (base64 text or raw JSON, the ``gzip`` flag, is_base64).

    ``gzip``: ``""``/``"0"`` plain, ``"1"`` gzip (the app SDKs and the mini-program's gzip
    plugin), ``"9"`` encrypted by the app SDKs with the project's key.
    """
    stripped = body.strip()
    if stripped:
        if stripped[:1] in (b"{", b"["):
            return stripped, "", False
        try:
            text = stripped.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadBody("body is not UTF-8 text", code="bad_utf8") from exc
        found = _form_payload(dict(parse_qsl(text, keep_blank_values=True)))
        if found is None:
            found = _form_payload(query)
        if found is None:
            raise BadBody("body has no data= or data_list= form field", code="no_data")
        flag = found[1] if found[1] not in ("", "0") else query.get("gzip", "")
    else:
        found = _form_payload(query)
        if found is None:
            raise BadBody("no data= or data_list= in the query or the body", code="no_data")
        flag = found[1]
    value = found[0].lstrip()
    if value[:1] in ("[", "{"):  # an app SDK's data_list sent as plain JSON (gzip=0)
        return value.encode(), flag, False
    return value, flag, True


def parse_sensors(
    query: Mapping[str, str],
    body: bytes,
    *,
    received_at: int,
    limits: Limits,
    enrichment: Mapping[str, str] | None = None,
) -> Parsed:
    """A Sensors request (query parameters and body) → accepted events and rejections."""
    payload, flag, is_base64 = sensors_payload(query, body)
    if flag == "9":
        raise BadBody(
            "encrypted payload (gzip=9): siyu cannot read it, turn off the SDK's encryption",
            code="encrypted",
        )
    raw = decode_base64(payload) if is_base64 else payload
    if isinstance(raw, str):
        raw = raw.encode()
    if flag not in ("", "0"):
        raw = inflate(raw, wbits=47, limit=limits.max_decompressed_bytes)
    elif len(raw) > limits.max_decompressed_bytes:
        raise BadBody(
            "decoded payload larger than max_decompressed_bytes", status=413, code="too_large"
        )
    loaded = load_json(raw)
    doc = loaded.doc
    if isinstance(doc, dict):
        docs = [doc]
    elif isinstance(doc, list):
        docs = doc
    else:
        raise BadBody(
            "not Sensors data: the payload must be one event object or an array of them",
            code="bad_shape",
        )
    if len(docs) > limits.max_events:
        raise BadBody(
            f"{len(docs)} events in one batch, limit is {limits.max_events}",
            status=413,
            code="too_many_events",
        )
    parsed = Parsed()
    flush_times: list[int] = []
    for index, ev in enumerate(docs):
        unreadable = loaded.unreadable.get(index)
        if unreadable is not None:
            # Kept as a one-event Sensors form, so a replay on /sa reads it as sent.
            payload = b"data=" + base64.b64encode(unreadable.payload)
            parsed.add(index, Rejection(index, unreadable.code, unreadable.reason, payload))
            continue
        native, sent_at = map_event(ev)
        if sent_at is not None:
            flush_times.append(sent_at)
        verdict = normalize(
            native,
            index=index,
            received_at=received_at,
            sent_at=sent_at,
            limits=limits,
            original=ev,
            enrichment=enrichment,
        )
        repaired = loaded.warnings.get(index)
        if repaired and isinstance(verdict, TrackEvent):
            verdict = replace(verdict, warnings=verdict.warnings + repaired)
        parsed.add(index, verdict)
    parsed.sent_at = max(flush_times) if flush_times else None
    return parsed
