"""Every Grafana dashboard panel runs against chDB loaded with demo data and returns rows.

Grafana cannot run here, so its part is played by this test: load each dashboard JSON,
substitute the datasource macros and template variables as Grafana would for the last
30 days, run every ClickHouse panel's SQL, and check every Prometheus panel names
metrics the processes really export.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

import collectors.metrics
import sinks.metrics
import streams.metrics
from sinks.demo_data import build_demo, load_demo
from sinks.writer import ClickHouseWriter
from streams.funnel_config import load_funnels

DASHBOARDS = sorted((Path(__file__).parents[3] / "infra" / "grafana" / "dashboards").glob("*.json"))
_NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseWriter]:
    w = ClickHouseWriter(url=None, chdb_path=tmp_path_factory.mktemp("chdb"))
    w.migrate()
    data = build_demo(load_funnels(), users=400, days=30, seed=5, now_ms=int(time.time() * 1000))
    load_demo(w, data)
    yield w
    w.close()


def _variables(board: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["current"]["value"] for v in board["templating"]["list"]}


def render(sql: str, variables: dict[str, str], now: datetime | None = None) -> str:
    """The SQL Grafana's ClickHouse datasource would send for the 30 days up to ``now``."""
    end_at = now or _NOW
    start_at = end_at - timedelta(days=30)
    start, end = start_at.strftime("%Y-%m-%d %H:%M:%S"), end_at.strftime("%Y-%m-%d %H:%M:%S")
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: (
            f"{m[1]} >= toDateTime('{start}', 'UTC') AND {m[1]} <= toDateTime('{end}', 'UTC')"
        ),
        sql,
    )
    sql = re.sub(
        r"\$__dateFilter\(([^)]+)\)",
        lambda m: f"{m[1]} >= toDate('{start[:10]}') AND {m[1]} <= toDate('{end[:10]}')",
        sql,
    )
    for name, value in variables.items():
        sql = sql.replace("${" + name + "}", value).replace("$" + name, value)
    assert "$" not in sql, f"unsubstituted macro in {sql}"
    return sql


def _panels(kind: str) -> list[Any]:
    out = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                if panel["datasource"]["type"] == kind:
                    out.append(pytest.param(board, target, id=f"{path.stem}:{panel['title']}"))
    return out


def test_seven_dashboards_ship() -> None:
    assert {p.stem for p in DASHBOARDS} == {
        "pipeline", "acquisition", "funnels", "fission", "lifecycle", "retention", "wechat",
    }  # fmt: skip


@pytest.mark.parametrize(("board", "target"), _panels("grafana-clickhouse-datasource"))
def test_clickhouse_panel_returns_rows(
    writer: ClickHouseWriter, board: dict[str, Any], target: dict[str, Any]
) -> None:
    rows = writer.rows(render(target["rawSql"], _variables(board)))
    assert rows, f"no rows for {target['rawSql']}"


def _exported() -> set[str]:
    names: set[str] = set()
    for module in (collectors.metrics, streams.metrics, sinks.metrics):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                names.add(value._name)
    return names


@pytest.mark.parametrize(("board", "target"), _panels("prometheus"))
def test_prometheus_panel_names_exported_metrics(
    board: dict[str, Any], target: dict[str, Any]
) -> None:
    used = set(re.findall(r"\bsiyu_[a-z_]+", target["expr"]))
    assert used
    exported = _exported()
    for name in used:
        base = re.sub(r"_(bucket|total|sum|count)$", "", name)
        assert base in exported, f"{name} is not exported by collectors, streams or sinks"
