from __future__ import annotations

from typing import Any

import pytest

from streams.domain.scenes import parse_scene, touch_of
from tests.unit.streams.domain.tag_helpers import SCENES, T0, ev


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(1007, 1007, id="int"),
        pytest.param("1047", 1047, id="text"),
        pytest.param("wx-1035", 1035, id="sensors-prefixed"),
        pytest.param("wx-", None, id="prefix-only"),
        pytest.param(True, None, id="bool"),
        pytest.param(None, None, id="none"),
        pytest.param(10.5, None, id="float"),
    ],
)
def test_parse_scene(raw: object, expected: int | None) -> None:
    assert parse_scene(raw) == expected


@pytest.mark.parametrize(
    ("context", "properties", "expected"),
    [
        pytest.param({"scene": 1007}, {}, {"channel": "share", "scene": 1007}, id="share-scene"),
        pytest.param(
            {"scene": 1047, "query": {"qr_id": "q1", "material_id": "m1"}},
            {},
            {"channel": "qr", "qr_id": "q1", "material_id": "m1"},
            id="qr-scene-with-material",
        ),
        pytest.param({}, {"$scene": "wx-1035"}, {"channel": "official_account"}, id="sensors"),
        pytest.param({"scene": 9999}, {}, {"channel": "other", "scene": 9999}, id="unknown-scene"),
        pytest.param({"share": {"sharer": "u9"}}, {}, {"channel": "share"}, id="share-context"),
        pytest.param({"query": {"qr_id": "q2"}}, {}, {"channel": "qr", "qr_id": "q2"}, id="qr-id"),
        pytest.param(
            {"utm": {"source": "baidu", "medium": "CPC", "campaign": "c1"}},
            {},
            {"channel": "ads", "utm_source": "baidu", "utm_medium": "CPC", "utm_campaign": "c1"},
            id="utm-known-medium",
        ),
        pytest.param(
            {},
            {"utm_source": "weibo", "utm_medium": "social"},
            {"channel": "share", "utm_source": "weibo"},
            id="utm-properties",
        ),
        pytest.param({}, {"utm_source": "x"}, {"channel": "ads"}, id="utm-default"),
        pytest.param(
            {}, {"campaign": "spring"}, {"channel": "ads", "utm_campaign": "spring"}, id="campaign"
        ),
        pytest.param(
            {}, {"material_id": "m7"}, {"channel": "other", "material_id": "m7"}, id="material"
        ),
        pytest.param({"utm": "junk", "query": []}, {}, None, id="junk-shapes"),
        pytest.param({}, {"price": 3}, None, id="not-an-entry"),
    ],
)
def test_touch_of(
    context: dict[str, Any], properties: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    touch = touch_of(SCENES, ev("$MPLaunch", T0, context=context, **properties))
    if expected is None:
        assert touch is None
        return
    assert touch is not None
    assert {k: touch[k] for k in expected} == expected
    assert touch["at"] == T0
    assert touch["platform"] == "miniprogram"


def test_touch_ignores_nested_values_as_text() -> None:
    touch = touch_of(SCENES, ev("$MPLaunch", context={"scene": 1007, "query": {"qr_id": {"a": 1}}}))
    assert touch is not None
    assert touch["qr_id"] == ""
