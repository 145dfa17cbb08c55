"""Where a user came from: WeChat scene values, utm parameters, share and QR material.

An event is an *entry* (a touch) when it carries a mini-program scene, utm parameters,
a share context, a QR / material id or a channel name (``context.qr``,
``context.material``, ``context.channel`` of the native envelope). A QR code is named
from the live-code registry (``SceneDictionary.qr_codes``): ``qr_name``, ``qr_channel``,
``qr_material``, ``qr_campaign``, ``qr_staff``, ``qr_kind``, or ``qr_name`` = the bare id
when the code is not registered. Its channel class comes from the editable scene
dictionary (:class:`SceneDictionary`), e.g. 1007 → share, 1047 → qr, 1035 → official
account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.domain.events import TrackEvent
from streams.domain.qr_codes import qr_names
from streams.domain.tag_definitions import SceneDictionary

__all__ = ["TOUCH_FIELDS", "parse_scene", "touch_of"]

# The fields of a stored touch, in the order tags are named after them.
TOUCH_FIELDS: tuple[str, ...] = (
    "channel",
    "scene",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "qr_id",
    "material_id",
    "platform",
    "entry_channel",
    "qr_name",
    "qr_channel",
    "qr_material",
    "qr_campaign",
    "qr_staff",
    "qr_kind",
)


_EMPTY: Mapping[str, Any] = {}
_ENTRY_CONTEXT = frozenset({"scene", "utm", "query", "share", "qr", "material", "channel"})
_ENTRY_PROPERTIES = frozenset(
    {
        "$scene", "utm_source", "utm_medium", "utm_campaign", "$utm_source", "$utm_medium",
        "$utm_campaign", "campaign", "qr_id", "material_id",
    }
)  # fmt: skip


def parse_scene(raw: object) -> int | None:
    """A scene value as an int: ``1007``, ``"1007"`` and Sensors' ``"wx-1007"`` alike."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        digits = raw.rsplit("-", 1)[-1].strip()
        if digits.isdigit():
            return int(digits)
    return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _pick(*candidates: object) -> str:
    """The first candidate that is a non-empty scalar, as text."""
    for value in candidates:
        if value is not None and not isinstance(value, (dict, list)):
            text = str(value).strip()
            if text:
                return text
    return ""


def touch_of(scenes: SceneDictionary, event: TrackEvent) -> dict[str, Any] | None:
    """The touch an event records, or None when it carries no source information."""
    ctx, props = event.context, event.properties
    if not (_ENTRY_CONTEXT & ctx.keys() or _ENTRY_PROPERTIES & props.keys()):
        return None  # the common case: an event that is not an entry
    utm, query, share = _mapping(ctx.get("utm")), _mapping(ctx.get("query")), ctx.get("share")
    scene = parse_scene(ctx.get("scene", props.get("$scene")))
    pg = props.get
    touch: dict[str, Any] = {
        "scene": scene,
        "utm_source": _pick(utm.get("source"), pg("utm_source"), pg("$utm_source")),
        "utm_medium": _pick(utm.get("medium"), pg("utm_medium"), pg("$utm_medium")),
        "utm_campaign": _pick(
            utm.get("campaign"),
            pg("utm_campaign"),
            pg("$utm_campaign"),
            query.get("campaign"),
            pg("campaign"),
        ),
        "qr_id": _pick(ctx.get("qr"), query.get("qr_id"), pg("qr_id")),
        "material_id": _pick(ctx.get("material"), query.get("material_id"), pg("material_id")),
        "platform": event.platform,
        "entry_channel": _pick(ctx.get("channel")),
        "at": event.time,
    }
    names = qr_names(scenes.qr_codes, touch["qr_id"])
    touch.update(names)
    if not touch["material_id"] and names.get("qr_material"):
        touch["material_id"] = names["qr_material"]
    if scene is not None and scene in scenes.scenes:
        channel = scenes.scenes[scene]
    elif isinstance(share, Mapping) and share:
        channel = scenes.share
    elif touch["qr_id"]:
        channel = scenes.qr
    elif touch["utm_source"] or touch["utm_medium"] or touch["utm_campaign"]:
        channel = scenes.utm_mediums.get(touch["utm_medium"].lower(), scenes.utm_default)
    elif scene is not None or touch["material_id"] or touch["entry_channel"]:
        channel = scenes.other
    else:
        return None
    touch["channel"] = channel
    return touch
