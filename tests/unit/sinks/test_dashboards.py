"""The Grafana dashboards: seven boards ship, every Prometheus panel names metrics the
processes really export, and :func:`render` plays Grafana's part for the ClickHouse
panels (macros and template variables substituted for the last 30 days). The ClickHouse
panels' numbers are checked against the scenario's ground truth in
tests/integration/test_ground_truth.py."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

import collectors.metrics
import sinks.metrics
import streams.metrics

DASHBOARDS = sorted((Path(__file__).parents[3] / "infra" / "grafana" / "dashboards").glob("*.json"))
_NOW = datetime.now(UTC)


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
