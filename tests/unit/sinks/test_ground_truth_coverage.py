"""Every figure an operator sees has a ground-truth check: each ClickHouse panel of the
Grafana dashboards and each figure of the overview page is in the ground-truth table
(tests/ground_truth), which tests/integration/test_ground_truth.py compares with the
scenario. A new panel or figure without an expected value fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sinks.overview import OVERVIEW_HTML
from tests.ground_truth.overview import OVERVIEW
from tests.ground_truth.table import PANELS

BOARDS = sorted((Path(__file__).parents[3] / "infra" / "grafana" / "dashboards").glob("*.json"))


def _clickhouse_panels() -> list[str]:
    titles = []
    for path in BOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            if panel["datasource"]["type"] == "grafana-clickhouse-datasource":
                titles.append(panel["title"])
    return titles


def test_every_clickhouse_panel_has_a_ground_truth() -> None:
    titles = _clickhouse_panels()
    assert len(titles) == len(set(titles)), "panel titles name the checks: keep them unique"
    assert sorted(set(titles) - set(PANELS)) == []
    assert sorted(set(PANELS) - set(titles)) == [], "checks of panels that no longer exist"


def test_every_overview_figure_has_a_ground_truth() -> None:
    kpis = re.findall(r'<b id="(k-[\w-]+)">', OVERVIEW_HTML)
    charts = re.findall(
        r'<section><h2>[^<]*</h2><div id="([\w-]+)"></div></section>', OVERVIEW_HTML
    )
    assert len(kpis) >= 7
    assert len(charts) >= 10
    assert sorted(set(kpis + charts) - set(OVERVIEW)) == []
    assert sorted(set(OVERVIEW) - set(kpis + charts)) == []
