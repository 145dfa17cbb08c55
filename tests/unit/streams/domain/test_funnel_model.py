"""Step matching and field reading, as ClickHouse's JSONExtract* would read them."""

from __future__ import annotations

from typing import Any

import pytest

from streams.domain.funnel_model import (
    Dimension,
    Filter,
    as_number,
    as_string,
    dimension_value,
    field_value,
    step_mask,
)
from tests.unit.streams.domain.funnel_factories import SCENES, T0, ev, funnels


@pytest.mark.parametrize(
    ("value", "text", "number"),
    [
        pytest.param(None, "", 0.0, id="missing"),
        pytest.param("x", "x", 0.0, id="string"),
        pytest.param("2.5", "2.5", 2.5, id="numeric-string"),
        pytest.param(" 3", " 3", 0.0, id="padded-string"),
        pytest.param(True, "true", 0.0, id="bool"),
        pytest.param(1, "1", 1.0, id="int"),
        pytest.param(1.5, "1.5", 1.5, id="float"),
        pytest.param(1000.0, "1000", 1000.0, id="integral-float"),
        pytest.param([1], "[1]", 0.0, id="array"),
        pytest.param({"b": 1}, '{"b":1}', 0.0, id="object"),
    ],
)
def test_reading_values(value: Any, text: str, number: float) -> None:
    assert as_string(value) == text
    assert as_number(value) == number


def test_field_paths() -> None:
    e = ev("x", T0, props={"a": {"b": 2}}, context={"utm": {"source": "kol"}})
    assert field_value(e, ("properties", "a", "b")) == 2
    assert field_value(e, ("properties", "a", "b", "c")) is None
    assert field_value(e, ("context", "utm", "source")) == "kol"
    assert field_value(e, ("platform",)) == "miniprogram"


def _mask(where: dict[str, Any], **event: Any) -> int:
    defs = funnels(
        {"funnels": {"f": {"window": 60, "steps": [{"name": "s", "events": "x", "where": where}]}}}
    )
    return step_mask(defs.funnels[0], ev("x", T0, **event))


@pytest.mark.parametrize(
    ("where", "props", "matches"),
    [
        pytest.param({"properties.c": "tea"}, {"c": "tea"}, True, id="eq"),
        pytest.param({"properties.c": "tea"}, {"c": "milk"}, False, id="eq-miss"),
        pytest.param({"properties.c": {"ne": "tea"}}, {}, True, id="ne-missing"),
        pytest.param({"properties.c": ["a", "b"]}, {"c": "b"}, True, id="in"),
        pytest.param({"properties.c": {"not_in": ["a"]}}, {"c": "b"}, True, id="not-in"),
        pytest.param({"properties.p": {"gt": 10}}, {"p": 12}, True, id="gt"),
        pytest.param({"properties.p": {"gte": 10}}, {"p": "10"}, True, id="gte-numeric-string"),
        pytest.param({"properties.p": {"lt": 10}}, {}, True, id="lt-missing-is-zero"),
        pytest.param({"properties.p": {"lte": 10}}, {"p": 11}, False, id="lte"),
        pytest.param({"properties.p": 5}, {"p": 5}, True, id="numeric-eq"),
        pytest.param({"properties.p": [5, 6]}, {"p": 6.0}, True, id="numeric-in"),
        pytest.param({"properties.a.b": {"exists": True}}, {"a": {"b": None}}, True, id="exists"),
        pytest.param({"properties.a.b": {"exists": False}}, {"a": 1}, True, id="not-exists"),
        pytest.param({"properties.a.b": {"exists": True}}, {"a": {}}, False, id="exists-miss"),
        pytest.param({"platform": "h5"}, {}, False, id="top-level"),
        pytest.param({"platform": {"exists": True}}, {}, True, id="top-level-exists"),
    ],
)
def test_filters(where: dict[str, Any], props: dict[str, Any], matches: bool) -> None:
    assert _mask(where, props=props) == (1 if matches else 0)


def test_filter_numeric_flag() -> None:
    assert Filter(("properties", "x"), "gt", 1.0).numeric
    assert not Filter(("properties", "x"), "eq", "a").numeric


def _dim(name: str) -> Dimension:
    return Dimension(name, scenes=SCENES)


@pytest.mark.parametrize(
    ("dim", "context", "props", "expected"),
    [
        pytest.param(Dimension("platform"), {}, {}, "miniprogram", id="platform"),
        pytest.param(_dim("campaign"), {"utm": {"campaign": "618"}}, {}, "618", id="campaign"),
        pytest.param(_dim("campaign"), {}, {"campaign": "xmas"}, "xmas", id="campaign-prop"),
        pytest.param(_dim("campaign"), {}, {}, "", id="no-campaign"),
        # The channel class of the scene dictionary, as acquisition and first touch show it.
        pytest.param(_dim("channel"), {"utm": {"source": "wb"}}, {}, "ads", id="utm"),
        pytest.param(_dim("channel"), {"utm": {"medium": "KOL"}}, {}, "koc", id="utm-medium"),
        pytest.param(_dim("channel"), {"scene": 1007}, {}, "share", id="scene"),
        pytest.param(_dim("channel"), {}, {"$scene": "wx-1047"}, "qr", id="sensors-scene"),
        pytest.param(_dim("channel"), {"scene": 9999}, {}, "other", id="unknown-scene"),
        pytest.param(_dim("channel"), {}, {}, "direct", id="direct"),
        pytest.param(Dimension("context.g", ("context", "g")), {"g": 7}, {}, "7", id="path"),
    ],
)
def test_dimensions(
    dim: Dimension, context: dict[str, Any], props: dict[str, Any], expected: str
) -> None:
    assert dimension_value(dim, ev("x", T0, context=context, props=props)) == expected


def test_funnels_with_scenes_class_their_channels_by_them() -> None:
    defs = funnels(
        {
            "funnels": {
                "f": {
                    "window": 60,
                    "steps": [{"name": "s", "events": ["x"]}],
                    "breakdown": ["channel", "campaign"],
                }
            }
        }
    )
    entry = ev("x", T0, context={"scene": 1007})
    assert [dimension_value(d, entry) for d in defs.funnels[0].breakdown] == ["other", ""]
    classed = defs.with_scenes(SCENES).funnels[0]
    assert [dimension_value(d, entry) for d in classed.breakdown] == ["share", ""]
    assert classed == defs.funnels[0]  # the dictionary is not part of the definition


def test_funnel_properties() -> None:
    defs = funnels(
        {
            "funnels": {
                "f": {
                    "window": 60,
                    "steps": [{"name": "a", "events": ["x", "y"]}, {"name": "b", "events": "z"}],
                }
            }
        }
    )
    f = defs.funnels[0]
    assert f.size == 2
    assert f.event_names == frozenset({"x", "y", "z"})
