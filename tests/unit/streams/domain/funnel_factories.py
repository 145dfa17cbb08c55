"""Builders shared by the funnel and fission tests."""

from __future__ import annotations

from typing import Any

from schemas.records import TrackEvent
from streams.domain.funnel_defs import FunnelSet, parse_funnels
from streams.domain.tag_definitions import SceneDictionary

DAY = 86_400
T0 = 1_764_000_000  # 2025-11-24T16:00:00Z, seconds
SCENES = SceneDictionary(scenes={1007: "share", 1047: "qr"}, utm_mediums={"kol": "koc"})
"""A scene dictionary for the channel breakdown: two known scenes, one utm medium."""


def ev(
    name: str,
    t: int,
    *,
    user: str = "u1",
    platform: str = "miniprogram",
    props: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    identities: dict[str, str] | None = None,
    ms: int = 0,
) -> TrackEvent:
    """An event at second ``t`` (plus ``ms``)."""
    return TrackEvent(
        event_id=f"{user}-{name}-{t}-{ms}",
        type="track",
        event=name,
        time=t * 1000 + ms,
        platform=platform,
        identities=identities or {"anonymous_id": user},
        properties=props or {},
        context=context or {},
        user_id=user,
    )


def funnels(spec: dict[str, Any]) -> FunnelSet:
    return parse_funnels(spec)


COMMERCE_SPEC: dict[str, Any] = {
    "funnels": {
        "shop": {
            "window": "1h",
            "breakdown": ["platform", "channel"],
            "steps": [
                {"name": "visit", "events": ["$pageview", "$MPViewScreen"]},
                {"name": "product", "events": "view_product"},
                {"name": "cart", "events": "add_to_cart"},
                {"name": "pay", "events": "pay_order"},
            ],
        }
    }
}

FISSION_SPEC: dict[str, Any] = {
    "funnels": {
        "fission": {
            "kind": "fission",
            "window": "2d",
            "steps": [
                {"name": "share", "events": "share"},
                {"name": "visit", "events": "$MPViewScreen", "via_share": True},
                {"name": "register", "events": "register"},
                {"name": "first_order", "events": "pay_order", "first": True},
            ],
        }
    },
    "fission": {"attribution": "first", "success_step": "register", "rewards": [2, 3]},
}
