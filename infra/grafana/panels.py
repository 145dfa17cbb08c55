"""Building blocks of the siyu dashboards: ClickHouse and Prometheus panels, a board with
its project variable, and the SQL fragments every panel shares (project, timezone)."""

from __future__ import annotations

from typing import Any

__all__ = ["CH", "PROJECT", "PROM", "TZ", "dashboard", "prom", "sql"]

CH = {"type": "grafana-clickhouse-datasource", "uid": "siyu-clickhouse"}
PROM = {"type": "prometheus", "uid": "siyu-prometheus"}
PROJECT = "project = '${project}'"
# The project's timezone (siyu.project_zones, from the settings): days start at its midnight.
TZ = "(SELECT any(timezone) FROM siyu.project_zones WHERE project = '${project}')"


def sql(title: str, query: str, kind: str = "table", w: int = 12, h: int = 8) -> dict[str, Any]:
    viz = {"table": "table", "timeseries": "timeseries", "bar": "barchart", "stat": "stat"}[kind]
    return {
        "type": viz,
        "title": title,
        "datasource": CH,
        "gridPos": {"w": w, "h": h},
        "targets": [
            {
                "refId": "A",
                "datasource": CH,
                "editorType": "sql",
                "queryType": "timeseries" if kind == "timeseries" else "table",
                "format": 0 if kind == "timeseries" else 1,
                "rawSql": " ".join(query.split()),
            }
        ],
    }


def prom(
    title: str, exprs: dict[str, str], kind: str = "timeseries", w: int = 12
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "datasource": PROM,
        "gridPos": {"w": w, "h": 8},
        "targets": [
            {"refId": chr(65 + i), "datasource": PROM, "expr": expr, "legendFormat": legend}
            for i, (legend, expr) in enumerate(exprs.items())
        ],
    }


def dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], project: bool = True
) -> dict[str, Any]:
    x = y = 0
    for i, p in enumerate(panels):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y = 0, y + h
        p["gridPos"].update({"x": x, "y": y})
        p["id"] = i + 1
        x += w
    variables = []
    if project:
        variables.append(
            {
                "name": "project",
                "type": "query",
                "datasource": CH,
                "query": "SELECT DISTINCT project FROM siyu.events",
                "current": {"text": "default", "value": "default"},
                "refresh": 1,
            }
        )
    return {
        "uid": uid,
        "title": title,
        "tags": ["siyu"],
        "schemaVersion": 39,
        "time": {"from": "now-30d", "to": "now"},
        "refresh": "30s",
        "templating": {"list": variables},
        "panels": panels,
    }
