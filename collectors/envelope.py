"""Pure normalization of one raw event dict into a :class:`TrackEvent`, or a rejection.

Every wire format (native JSON, pixel, Sensors) ends here, so the same limits, type
coercion, junk-identity rules and clock-skew correction apply to all of them.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from collectors.limits import Limits
from schemas.records import EVENT_TYPES, TrackEvent

__all__ = [
    "JUNK_IDENTITY_VALUES",
    "PLATFORMS",
    "Rejection",
    "clean_identities",
    "entry_of",
    "normalize",
    "stored_time",
]

# Values SDKs send when an id is missing; they must never link two people.
JUNK_IDENTITY_VALUES = frozenset(
    {"", "null", "none", "undefined", "0", "-1", "anonymous", "[object object]", "nan", "nil"}
)
PLATFORMS = frozenset({"miniprogram", "h5", "app", "server", "official_account", "wecom", "web"})
# Properties SDKs are known to send as strings although they are numbers (form fields,
# mini-program query parameters, old Sensors SDKs): coerced, with a warning.
NUMERIC_PROPERTIES = frozenset(
    {
        "price",
        "amount",
        "quantity",
        "$screen_width",
        "$screen_height",
        "$viewport_width",
        "$viewport_height",
        "$viewport_position",
        "$share_depth",
        "$latest_share_depth",
        "$event_duration",
        "event_duration",
        "$timezone_offset",
    }
)
BOOLEAN_PROPERTIES = frozenset({"$is_first_day", "$is_first_time", "$is_login_id"})
# Avro `long` bounds: times outside them cannot be stored as they are.
_MAX_MS = 2**63 - 1
_MAX_IDENTITY_VALUE = 255
_MAX_IDENTITY_KEY = 128
# Entry context of the native envelope (docs/collector.md): where an event entered.
_ENTRY_NAMES = ("qr", "material", "channel")
_ENTRY_KEYS = frozenset({*_ENTRY_NAMES, "scene", "utm"})
_UTM_NAMES = ("source", "medium", "campaign", "term", "content")
_MAX_ENTRY_VALUE = 128
_NO_ENTRY: dict[str, str] = {}
# Item events describe things, not people: they carry no identity.
_ITEM_TYPES = frozenset({"item_set", "item_delete"})


def _dump(raw: Any) -> bytes:
    """The event as JSON for its dead letter; values JSON itself cannot hold become text."""
    try:
        return orjson.dumps(raw)
    except TypeError:
        return json.dumps(raw, default=repr, ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Rejection:
    """One event the collector refused; ``code`` is a stable label, ``reason`` the detail."""

    index: int
    code: str
    reason: str
    payload: bytes
    event_id: str = ""


def stored_time(
    client_time: int | None, *, received_at: int, sent_at: int | None, limits: Limits
) -> tuple[int, str | None]:
    """Stored time and a warning: ``received_at + (time − sent_at)`` when ``sent_at`` is known.

    Times more than ``max_future_ms`` ahead of ``received_at`` or ``max_past_ms`` behind it
    fall back to ``received_at`` and are flagged (``time_in_future`` / ``time_too_old``).
    """
    if client_time is None:
        return received_at, "time_missing"
    t = received_at + (client_time - sent_at) if sent_at is not None else client_time
    if t > received_at + limits.max_future_ms:
        return received_at, "time_in_future"
    if t < received_at - limits.max_past_ms or t < 0:
        return received_at, "time_too_old"
    return t, None


def clean_identities(raw: Any) -> tuple[dict[str, str], list[str]]:
    """Keep usable identities; report junk values (``""``, ``null``, ``0`` …) as warnings."""
    if not isinstance(raw, Mapping):
        return {}, (["identities_not_object"] if raw is not None else [])
    clean: dict[str, str] = {}
    warnings: list[str] = []
    for key, value in raw.items():
        if type(value) is str and type(key) is str:  # the common case, checked cheaply
            text = value.strip()
            if (
                key
                and len(key) <= _MAX_IDENTITY_KEY
                and key == key.strip()
                and (
                    0 < len(text) <= _MAX_IDENTITY_VALUE
                    and text.lower() not in JUNK_IDENTITY_VALUES
                )
            ):
                clean[key] = text
                continue
        name = str(key).strip()
        if not name or len(name) > _MAX_IDENTITY_KEY:
            warnings.append("junk_identity_key")
            continue
        if value is None or isinstance(value, (dict, list, bool)):
            warnings.append(f"junk_identity:{name}")
            continue
        text = str(value).strip()
        if text.lower() in JUNK_IDENTITY_VALUES:
            warnings.append(f"junk_identity:{name}")
            continue
        if len(text) > _MAX_IDENTITY_VALUE:
            warnings.append(f"identity_too_long:{name}")
            continue
        clean[name] = text
    return clean, warnings


def _as_ms(value: Any) -> tuple[int | None, str | None]:
    """An epoch-ms integer from what SDKs send: int, float, or a numeric string."""
    if isinstance(value, bool):
        return None, "bad"
    if isinstance(value, int):
        return value, None
    if isinstance(value, float) and math.isfinite(value):
        return int(value), None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and len(text) <= 19:
            return int(text), "coerced:time"
    return None, "bad"


_COERCIBLE = NUMERIC_PROPERTIES | BOOLEAN_PROPERTIES


def _coerce(properties: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if _COERCIBLE.isdisjoint(properties):
        return properties
    out = properties
    for name in NUMERIC_PROPERTIES.intersection(properties):
        value = properties[name]
        if isinstance(value, str):
            number = _number(value)
            if number is not None:
                if out is properties:
                    out = dict(properties)
                out[name] = number
                warnings.append(f"coerced:{name}")
    for name in BOOLEAN_PROPERTIES.intersection(properties):
        value = properties[name]
        if isinstance(value, str) and value.lower() in ("true", "false"):
            if out is properties:
                out = dict(properties)
            out[name] = value.lower() == "true"
            warnings.append(f"coerced:{name}")
    return out


def _number(text: str) -> int | float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _entry_text(value: Any) -> str | None:
    """A usable entry value as text: a non-empty string or number of at most 128 chars."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= _MAX_ENTRY_VALUE else None


def entry_of(context: Mapping[str, Any], warnings: list[str]) -> dict[str, str]:
    """``context.qr``, ``.material``, ``.channel``, ``.scene`` and ``.utm.*`` as flat text.

    Unusable values (objects, empty or over-long text) are left out with a warning
    ``bad_entry:<name>``; the context itself keeps what was sent.
    """
    if _ENTRY_KEYS.isdisjoint(context):
        return _NO_ENTRY
    entry: dict[str, str] = {}
    for name in (*_ENTRY_NAMES, "scene"):
        if name in context and context[name] is not None:
            text = _entry_text(context[name])
            if text is None:
                warnings.append(f"bad_entry:{name}")
            else:
                entry[name] = text
    utm = context.get("utm")
    if isinstance(utm, Mapping):
        for name in _UTM_NAMES:
            text = _entry_text(utm.get(name))
            if text is not None:
                entry[f"utm_{name}"] = text
    return entry


def _check_value(value: Any, depth: int, limits: Limits) -> str | None:
    """The first limit a (nested) value breaks, or None. Flat values take the fast path."""
    if type(value) is dict:
        if depth >= limits.max_depth:
            return "too_deep"
        max_name, max_value = limits.max_name_length, limits.max_value_bytes
        for key, item in value.items():
            if len(key) > max_name:
                return "name_too_long"
            kind = type(item)
            if kind is str:
                if len(item) > max_value:
                    return "value_too_large"
            elif kind is int:
                if not -(2**63) <= item < 2**63:
                    return "value_too_large"
            elif kind is dict or kind is list:
                problem = _check_value(item, depth + 1, limits)
                if problem:
                    return problem
        return None
    if type(value) is list:
        if depth >= limits.max_depth:
            return "too_deep"
        for item in value:
            problem = _check_value(item, depth + 1, limits)
            if problem:
                return problem
        return None
    if type(value) is str:
        return "value_too_large" if len(value) > limits.max_value_bytes else None
    if type(value) is int and not -(2**63) <= value < 2**63:
        return "value_too_large"
    return None


def _item_problem(item: Any) -> str | None:
    """Why an item event's ``context.item`` cannot name an item, or None."""
    if not isinstance(item, dict):
        return "item events need context.item = {type, id} (Sensors: item_type, item_id)"
    for part in ("type", "id"):
        value = item.get(part)
        if type(value) is not str or not 0 < len(value) <= _MAX_IDENTITY_VALUE:
            return f"item {part} must be a non-empty string of at most {_MAX_IDENTITY_VALUE} chars"
    return None


_LIMIT_TEXT = {
    "value_too_large": "a value is larger than max_value_bytes ({limits.max_value_bytes})",
    "too_deep": "values nest deeper than max_depth ({limits.max_depth})",
    "name_too_long": "a property name is longer than max_name_length ({limits.max_name_length})",
}


def normalize(
    raw: Any,
    *,
    index: int,
    received_at: int,
    sent_at: int | None,
    limits: Limits,
    original: Any = None,
    enrichment: Mapping[str, str] | None = None,
) -> TrackEvent | Rejection:
    """One raw event → a :class:`TrackEvent`, or a :class:`Rejection` with the reason.

    ``original`` is what the client sent when ``raw`` was mapped from another wire format
    (Sensors); rejections keep it so a dead letter can be replayed on its own route.
    """

    def reject(code: str, reason: str, event_id: str = "") -> Rejection:
        return Rejection(
            index, code, reason, _dump(original if original is not None else raw), event_id
        )

    if not isinstance(raw, dict):
        return reject("not_object", "event is not a JSON object")
    event_id = raw.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= 128):
        return reject("bad_event_id", "event_id must be a non-empty string of at most 128 chars")
    event_id = event_id or str(uuid.uuid4())
    etype = raw.get("type", "track")
    if type(etype) is not str or etype not in EVENT_TYPES:
        return reject("unknown_type", f"unknown type {str(etype)[:64]!r}", event_id)
    name = raw.get("event", "")
    if etype == "track" and (not isinstance(name, str) or not name):
        return reject("no_event_name", "track event needs a non-empty 'event' name", event_id)
    if not isinstance(name, str):
        return reject("bad_event_name", "'event' must be a string", event_id)
    if len(name) > limits.max_name_length:
        return reject("name_too_long", f"event name longer than {limits.max_name_length}", event_id)
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict):
        return reject("bad_properties", "properties must be an object", event_id)
    if len(properties) > limits.max_properties:
        return reject(
            "too_many_properties", f"more than {limits.max_properties} properties", event_id
        )
    context = raw.get("context") or {}
    if not isinstance(context, dict):
        return reject("bad_context", "context must be an object", event_id)
    problem = _check_value(properties, 0, limits) or _check_value(context, 0, limits)
    if problem:
        return reject(problem, _LIMIT_TEXT[problem].format(limits=limits), event_id)
    raw_identities = raw.get("identities")
    if raw_identities is not None and not isinstance(raw_identities, dict):
        return reject("bad_identities", "identities must be an object", event_id)
    identities, warnings = clean_identities(raw_identities)
    if etype in _ITEM_TYPES:
        problem = _item_problem(context.get("item"))
        if problem:
            return reject("bad_item", problem, event_id)
    elif not identities:
        return reject("no_identity", "no usable identity", event_id)
    client_time: int | None = None
    if raw.get("time") is not None:
        client_time, problem = _as_ms(raw["time"])
        if client_time is None:
            return reject("bad_time", "time must be epoch milliseconds (integer)", event_id)
        if problem:
            warnings.append(problem)
        if not 0 <= client_time <= _MAX_MS:
            client_time = None
            warnings.append("time_out_of_range")
    time, warning = stored_time(
        client_time, received_at=received_at, sent_at=sent_at, limits=limits
    )
    if warning:
        warnings.append(warning)
    platform = raw.get("platform") or "server"
    if type(platform) is not str or platform not in PLATFORMS:
        return reject("unknown_platform", f"unknown platform {str(platform)[:32]!r}", event_id)
    properties = _coerce(properties, warnings)
    entry = entry_of(context, warnings)
    lib = context.get("lib")
    if not isinstance(lib, dict):
        lib = {}
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
        lib_name=str(lib.get("name", ""))[:64],
        lib_version=str(lib.get("version", ""))[:64],
        warnings=tuple(warnings),
        enrichment=enrichment or {},
        entry=entry,
    )
