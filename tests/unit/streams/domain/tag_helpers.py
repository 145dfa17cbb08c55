"""Builders shared by the tag engine's unit tests."""

from __future__ import annotations

import itertools
from typing import Any

from schemas.records import TrackEvent
from streams.domain.tag_definitions import DAY_MS, HOUR_MS, Definitions, SceneDictionary

__all__ = ["DAY", "HOUR", "T0", "defs", "ev"]

DAY, HOUR = DAY_MS, HOUR_MS
# 2025-11-24 16:00 UTC = 2025-11-25 00:00 in UTC+8: the start of a local day.
T0 = 1_764_000_000_000 - (1_764_000_000_000 + 8 * HOUR) % DAY

_ids = itertools.count()

SCENES = SceneDictionary(
    scenes={1007: "share", 1047: "qr", 1035: "official_account", 1045: "ads"},
    utm_mediums={"cpc": "ads", "social": "share"},
)


def defs(**overrides: Any) -> Definitions:
    overrides.setdefault("scenes", SCENES)
    return Definitions(**overrides)


def ev(
    event: str = "$pageview",
    t: int = T0,
    *,
    user: str = "u1",
    event_id: str | None = None,
    platform: str = "miniprogram",
    context: dict[str, Any] | None = None,
    **properties: Any,
) -> TrackEvent:
    return TrackEvent(
        event_id=event_id or f"ev-{next(_ids)}",
        type="track",
        event=event,
        time=t,
        platform=platform,
        identities={},
        properties=properties,
        context=context or {},
        user_id=user,
    )
