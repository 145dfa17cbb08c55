"""Pure parsing of the native envelope: raw body → events and per-event rejections.

No I/O here: the caller passes the receive time and limits, and gets typed records back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from collectors.exceptions import BadBody
from schemas.records import EVENT_TYPES, EventBatch, TrackEvent

__all__ = [
    "JUNK_IDENTITY_VALUES",
    "Limits",
    "Parsed",
    "Rejection",
    "group_by_key",
    "parse_native",
    "primary_identity",
    "stored_time",
]

# Values SDKs send when an id is missing; they must never link two people.
JUNK_IDENTITY_VALUES = frozenset(
    {"", "null", "none", "undefined", "0", "-1", "anonymous", "[object object]", "nan", "nil"}
)
# Device-level ids first: one device's events stay on one partition, in order, across a login.
_KEY_PRIORITY = (
    "anonymous_id",
    "cookie_id",
    "device_id",
    "wx_openid",
    "wx_unionid",
    "login_id",
    "member_id",
    "mobile",
)
_PLATFORMS = frozenset({"miniprogram", "h5", "app", "server", "official_account", "wecom", "web"})


@dataclass(frozen=True, slots=True)
class Limits:
    max_events: int = 1000
    max_future_ms: int = 23 * 3600 * 1000
    max_past_ms: int = 2 * 365 * 86400 * 1000
    max_name_length: int = 128
    max_properties: int = 500


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str
    payload: bytes
    event_id: str = ""


@dataclass
class Parsed:
    events: list[TrackEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    sent_at: int | None = None


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"invalid JSON: {exc}") from exc


def parse_native(body: bytes, *, received_at: int, limits: Limits) -> Parsed:
    """Parse a ``/v1/batch`` body: a JSON array, ``{"sent_at", "events"}`` or one event."""
    doc = _loads(body)
    sent_at: int | None = None
    if isinstance(doc, dict) and "events" in doc:
        sent_at = doc.get("sent_at") if isinstance(doc.get("sent_at"), int) else None
        doc = doc["events"]
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise BadBody("body must be a JSON array of events or {'sent_at', 'events'}")
    if len(doc) > limits.max_events:
        raise BadBody(f"{len(doc)} events in one batch, limit is {limits.max_events}", status=413)
    parsed = Parsed(sent_at=sent_at)
    for index, raw in enumerate(doc):
        verdict = normalize(
            raw, index=index, received_at=received_at, sent_at=sent_at, limits=limits
        )
        if isinstance(verdict, Rejection):
            parsed.rejections.append(verdict)
        else:
            parsed.events.append(verdict)
    return parsed


def stored_time(
    client_time: int | None, *, received_at: int, sent_at: int | None, limits: Limits
) -> tuple[int, str | None]:
    """Stored time and a warning: ``received_at + (time − sent_at)`` when ``sent_at`` is known."""
    if client_time is None:
        return received_at, "time_missing"
    t = received_at + (client_time - sent_at) if sent_at is not None else client_time
    if t > received_at + limits.max_future_ms:
        return received_at, "time_in_future"
    if t < received_at - limits.max_past_ms:
        return received_at, "time_too_old"
    return t, None


def _clean_identities(raw: Any) -> tuple[dict[str, str], list[str]]:
    if not isinstance(raw, Mapping):
        return {}, (["identities_not_object"] if raw is not None else [])
    clean: dict[str, str] = {}
    warnings: list[str] = []
    for key, value in raw.items():
        if value is None or isinstance(value, (dict, list, bool)):
            warnings.append(f"junk_identity:{key}")
            continue
        text = str(value).strip()
        if text.lower() in JUNK_IDENTITY_VALUES:
            warnings.append(f"junk_identity:{key}")
            continue
        clean[str(key).strip()] = text
    return clean, warnings


def normalize(
    raw: Any, *, index: int, received_at: int, sent_at: int | None, limits: Limits
) -> TrackEvent | Rejection:
    """One raw event → a :class:`TrackEvent`, or a :class:`Rejection` with the reason."""
    payload = orjson.dumps(raw)
    if not isinstance(raw, dict):
        return Rejection(index, "event is not a JSON object", payload)
    event_id = raw.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= 128):
        return Rejection(
            index, "event_id must be a non-empty string of at most 128 characters", payload
        )
    event_id = event_id or str(uuid.uuid4())
    etype = raw.get("type", "track")
    if etype not in EVENT_TYPES:
        return Rejection(index, f"unknown type {etype!r}", payload, event_id)
    name = raw.get("event", "")
    if etype == "track" and (not isinstance(name, str) or not name):
        return Rejection(index, "track event needs a non-empty 'event' name", payload, event_id)
    if not isinstance(name, str) or len(name) > limits.max_name_length:
        return Rejection(
            index, f"event name longer than {limits.max_name_length}", payload, event_id
        )
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict):
        return Rejection(index, "properties must be an object", payload, event_id)
    if len(properties) > limits.max_properties:
        return Rejection(index, f"more than {limits.max_properties} properties", payload, event_id)
    context = raw.get("context") or {}
    if not isinstance(context, dict):
        return Rejection(index, "context must be an object", payload, event_id)
    identities, warnings = _clean_identities(raw.get("identities"))
    if not identities:
        return Rejection(index, "no usable identity", payload, event_id)
    client_time = raw.get("time")
    if client_time is not None and (
        not isinstance(client_time, int) or isinstance(client_time, bool)
    ):
        return Rejection(index, "time must be epoch milliseconds (integer)", payload, event_id)
    time, warning = stored_time(
        client_time, received_at=received_at, sent_at=sent_at, limits=limits
    )
    if warning:
        warnings.append(warning)
    platform = raw.get("platform") or "server"
    if platform not in _PLATFORMS:
        return Rejection(index, f"unknown platform {platform!r}", payload, event_id)
    lib = context.get("lib") if isinstance(context.get("lib"), dict) else {}
    return TrackEvent(
        event_id=event_id,
        type=etype,
        event=name,
        time=time,
        client_time=client_time,
        platform=platform,
        identities=identities,
        properties=properties,
        context=context,
        lib_name=str(lib.get("name", "")),
        lib_version=str(lib.get("version", "")),
        warnings=tuple(warnings),
    )


def primary_identity(identities: Mapping[str, str]) -> str:
    """The partition key of an event: its most device-stable identity, as ``type=value``."""
    for wanted in _KEY_PRIORITY:
        for key in sorted(identities):
            if key == wanted or key.startswith(wanted + ":"):
                return f"{key}={identities[key]}"
    key = min(identities)
    return f"{key}={identities[key]}"


def group_by_key(
    events: Iterable[TrackEvent],
    *,
    project: str,
    received_at: int,
    sent_at: int | None,
    ip: str,
    user_agent: str,
    source: str,
) -> list[EventBatch]:
    """One :class:`EventBatch` (one Kafka record) per partition key, order kept."""
    groups: dict[str, list[TrackEvent]] = {}
    for e in events:
        groups.setdefault(primary_identity(e.identities), []).append(e)
    return [
        EventBatch(
            project=project,
            key=key,
            received_at=received_at,
            sent_at=sent_at,
            ip=ip,
            user_agent=user_agent,
            source=source,
            events=tuple(group),
        )
        for key, group in groups.items()
    ]
