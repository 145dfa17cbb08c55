"""Queries answered through the endpoint (parsed, checked, regenerated, scoped) give the
same rows as the same SQL run directly: the rewrite keeps their meaning."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from sinks.demo_data import build_demo, load_demo
from sinks.overview import overview_queries
from sinks.sql_endpoint import build_sql_app
from sinks.writer import ClickHouseWriter
from siyu.settings import Settings
from streams.domain.funnel_sql import window_funnel_sql
from streams.funnel_config import load_funnels

with warnings.catch_warnings():
    # Starlette's TestClient would rather use httpx2: about the test transport, not our code.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, ClickHouseWriter]]:
    writer = ClickHouseWriter(url=None, chdb_path=Path(tmp_path_factory.mktemp("chdb")))
    writer.migrate()
    now = int(time.time() * 1000)
    load_demo(writer, build_demo(load_funnels(), users=120, days=10, seed=7, now_ms=now))
    with TestClient(build_sql_app(writer, Settings())) as client:
        yield client, writer
    writer.close()


def _queries() -> list[str]:
    overview = list(overview_queries("default", "Asia/Shanghai", 7).values())
    defs = load_funnels()
    funnels = [
        window_funnel_sql(f, fission=defs.fission, breakdown=b)
        for f in defs.funnels
        for b in (False, True)
    ]
    assert len(overview) >= 10
    return [*overview, *funnels]


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int | float):
        return repr(float(v))
    try:
        return repr(float(v))
    except (TypeError, ValueError):
        return str(v)


def _normal(rows: list[Any]) -> list[str]:
    return sorted(orjson.dumps([_value(v) for v in r]).decode() for r in rows)


@pytest.mark.parametrize("sql", _queries())
def test_the_endpoint_answers_what_the_engine_answers(
    demo: tuple[TestClient, ClickHouseWriter], sql: str
) -> None:
    client, writer = demo
    direct = writer.rows(sql.replace("\\'", "'"))
    answer = client.post(
        "/",
        content=sql.replace("\\'", "'") + " FORMAT JSONCompactEachRow",
        auth=("default", "demo-read-key"),
    )
    assert answer.status_code == 200, answer.text
    served = [orjson.loads(line) for line in answer.text.splitlines()]
    assert _normal(served) == _normal([list(r) for r in direct])
    assert direct, "the demo data should give every query rows"
