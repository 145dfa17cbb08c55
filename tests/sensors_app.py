"""Sensors app SDK requests as sa-sdk-android and sa-sdk-ios write them.

sa-sdk-android (``AnalyticsMessages.sendHttpRequest``) POSTs a form
``crc=<String.hashCode>&gzip=1&data_list=<base64 of gzip>``, URL-encoded by
``Uri.Builder``; sa-sdk-ios (``SAFlushHTTPBodyInterceptor``) the same fields, the base64
percent-encoded with only letters and digits left as they are; ``gzip=9`` is their
encrypted form.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any
from urllib.parse import quote

import orjson

__all__ = ["ANDROID_ID", "NOW", "android_body", "android_event", "ios_body"]

NOW = 1_795_000_000_000
ANDROID_ID = "5f3e2a1b9c8d7e6f"


def android_event(i: int, **fields: Any) -> dict[str, Any]:
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


def android_body(events: list[dict[str, Any]]) -> bytes:
    data = base64.b64encode(gzip.compress(orjson.dumps(events))).decode()
    return f"crc={_java_hash(data)}&gzip=1&data_list={quote(data, safe='')}".encode()


def ios_body(events: list[dict[str, Any]], *, gz: str = "1") -> bytes:
    data = base64.b64encode(gzip.compress(orjson.dumps(events))).decode()
    return f"crc={_java_hash(data)}&gzip={gz}&data_list={quote(data, safe='')}".encode()
