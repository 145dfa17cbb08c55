"""Step conditions in SQL select exactly the events the stream matches (checked in chDB)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from chdb import session as chdb_session

from streams.domain.funnel_model import Dimension, dimension_value, step_mask
from streams.domain.funnel_sql import dimension_sql, quote, step_sql
from tests.unit.streams.domain.funnel_factories import SCENES, T0, ev, funnels

CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"properties.c": "tea"}, {"c": "tea"}),
    ({"properties.c": "tea"}, {"c": 1}),
    ({"properties.c": {"ne": "tea"}}, {}),
    ({"properties.c": ["a", "b"]}, {"c": "b"}),
    ({"properties.c": {"not_in": ["a"]}}, {"c": "a"}),
    ({"properties.p": {"gt": 10}}, {"p": 12}),
    ({"properties.p": {"gte": 10}}, {"p": "10"}),
    ({"properties.p": {"lt": 10}}, {}),
    ({"properties.p": {"lte": 10}}, {"p": 11}),
    ({"properties.p": 5}, {"p": 5}),
    ({"properties.p": 1.5}, {"p": "1.5"}),
    ({"properties.p": [5, 6]}, {"p": 6.0}),
    ({"properties.f": "true"}, {"f": True}),
    ({"properties.a.b": {"exists": True}}, {"a": {"b": None}}),
    ({"properties.a.b": {"exists": False}}, {"a": 1}),
    ({"properties.a.b": {"exists": True}}, {"a": {}}),
    ({"platform": "h5"}, {}),
    ({"platform": {"exists": True}}, {}),
    ({"platform": {"exists": False}}, {}),
    ({"lib_name": {"gt": 1}}, {}),
    ({"properties.q": "it's"}, {"q": "it's"}),
    ({"context.utm.source": "kol"}, {}),
]


@pytest.fixture(scope="module")
def chdb() -> Iterator[Any]:
    s = chdb_session.Session()
    yield s
    s.close()


def _row(e: Any) -> str:
    props = orjson.dumps(e.properties).decode()
    ctx = orjson.dumps(e.context).decode()
    return (
        f"SELECT {quote(e.event)} AS event, {quote(e.platform)} AS platform, "
        f"{quote(e.lib_name)} AS lib_name, {quote(props)} AS properties, {quote(ctx)} AS context"
    )


@pytest.mark.parametrize(("where", "props"), CASES)
def test_step_sql_matches_the_stream(
    chdb: Any, where: dict[str, Any], props: dict[str, Any]
) -> None:
    defs = funnels(
        {
            "funnels": {
                "f": {"window": 60, "steps": [{"name": "s", "events": ["x"], "where": where}]}
            }
        }
    )
    funnel = defs.funnels[0]
    e = ev("x", T0, props=props, context={"utm": {"source": "kol"}})
    sql = f"SELECT {step_sql(funnel.steps[0])} FROM ({_row(e)})"
    assert int(chdb.query(sql, "CSV").bytes().decode().strip()) == step_mask(funnel, e)


@pytest.mark.parametrize(
    ("name", "context", "props"),
    [
        ("platform", {}, {}),
        ("campaign", {"utm": {"campaign": "618"}}, {}),
        ("campaign", {"query": {"campaign": "q"}}, {"campaign": "p"}),
        ("campaign", {}, {"$utm_campaign": "s"}),
        ("campaign", {}, {}),
        ("channel", {"utm": {"source": "wb"}}, {}),
        ("channel", {"utm": {"medium": "KOL"}}, {}),
        ("channel", {"scene": 1007}, {}),
        ("channel", {"utm": {"source": ""}, "scene": "1047"}, {}),
        ("channel", {}, {"$scene": "wx-1047"}),
        ("channel", {"scene": 9999}, {}),
        ("channel", {"share": {"sharer": "u1"}}, {}),
        ("channel", {"qr": "qr-1"}, {}),
        ("channel", {"material": "m"}, {}),
        ("channel", {}, {}),
    ],
)
def test_dimension_sql_matches_the_stream(
    chdb: Any, name: str, context: dict[str, Any], props: dict[str, Any]
) -> None:
    dim = Dimension(name, scenes=SCENES)
    e = ev("x", T0, context=context, props=props)
    got = chdb.query(f"SELECT {dimension_sql(dim)} FROM ({_row(e)})", "JSONEachRow").bytes()
    assert next(iter(orjson.loads(got).values())) == dimension_value(dim, e)


def test_a_field_path_dimension_sql_matches_the_stream(chdb: Any) -> None:
    dim = Dimension("context.g", ("context", "g"))
    e = ev("x", T0, context={"g": 7})
    got = chdb.query(f"SELECT {dimension_sql(dim)} FROM ({_row(e)})", "JSONEachRow").bytes()
    assert next(iter(orjson.loads(got).values())) == dimension_value(dim, e)
