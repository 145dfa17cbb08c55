"""The per-event entry fields in SQL equal the tag engine's reading of the same event."""

from __future__ import annotations

import json
from typing import Any

import chdb
import pytest

from schemas.records import TrackEvent
from sinks.definitions import SqlDefinitions, quote
from streams.domain.entry_sql import ENTRY_FIELDS
from streams.domain.scenes import touch_of
from streams.domain.tag_definitions import SceneDictionary
from streams.tag_files import load_definitions

SCENES = load_definitions().scenes

CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"scene": 1007}, {}),
    ({"scene": "1047"}, {}),
    ({"scene": "wx-1035"}, {}),
    ({"scene": 9999}, {}),
    ({}, {"$scene": 1058}),
    ({"share": {"sharer": "u1"}}, {}),
    ({"share": {}}, {}),
    ({"qr": "qr-7"}, {}),
    ({"query": {"qr_id": "qr-8"}}, {"material_id": "m-2"}),
    ({"material": "poster-1", "qr": "qr-9"}, {}),
    ({"utm": {"source": "baidu", "medium": "CPC", "campaign": "spring"}}, {}),
    ({"utm": {"source": "x", "medium": "unknown"}}, {}),
    ({}, {"utm_medium": "article"}),
    ({}, {"campaign": "autumn"}),
    ({"channel": "store"}, {}),
    ({"material": "  "}, {"material_id": "m-3"}),
    ({}, {"$url_path": "/"}),
]


def _event(ctx: dict[str, Any], props: dict[str, Any]) -> TrackEvent:
    return TrackEvent("e", "track", "$pageview", 0, "mp", {}, properties=props, context=ctx)


def _expected(
    ctx: dict[str, Any], props: dict[str, Any], scenes: SceneDictionary
) -> dict[str, Any]:
    touch = touch_of(scenes, _event(ctx, props)) or {}
    return {
        "channel": touch.get("channel", scenes.direct),
        "campaign": touch.get("utm_campaign", ""),
        "material": touch.get("material_id") or touch.get("qr_id", ""),
        "utm_source": touch.get("utm_source", ""),
        "utm_medium": touch.get("utm_medium", ""),
        "scene": touch.get("scene"),
    }


def _sql(ctx: dict[str, Any], props: dict[str, Any], defs: SqlDefinitions) -> dict[str, Any]:
    fields = ", ".join(f"{{{{entry_{f}(c, p)}}}} AS {f}" for f in ENTRY_FIELDS)
    c, p = quote(json.dumps(ctx)), quote(json.dumps(props))
    query = defs.render(f"SELECT {fields} FROM (SELECT {c} AS c, {p} AS p)")
    row: dict[str, Any] = json.loads(str(chdb.query(query, "JSONEachRow")))
    row["scene"] = None if row["scene"] is None else int(row["scene"])
    return row


@pytest.mark.parametrize(("ctx", "props"), CASES)
def test_sql_reads_an_entry_as_the_tag_engine_does(
    ctx: dict[str, Any], props: dict[str, Any]
) -> None:
    defs = SqlDefinitions(scenes=SCENES)
    assert _sql(ctx, props, defs) == _expected(ctx, props, SCENES)


def test_an_empty_dictionary_still_classifies() -> None:
    bare = SceneDictionary()
    defs = SqlDefinitions(scenes=bare)
    for ctx, props in CASES:
        assert _sql(ctx, props, defs) == _expected(ctx, props, bare), (ctx, props)
