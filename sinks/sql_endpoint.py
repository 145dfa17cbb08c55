"""Read-only SQL over HTTP, in the style of ClickHouse's HTTP interface.

chDB allows one process per data directory, so the process that owns it (the sink)
serves queries for ``siyu sql``, tests and local dashboards: ``GET /?query=…`` or
``POST /`` with the query as body, ``FORMAT JSON|JSONEachRow|TSV|CSV`` in the query or
``default_format`` as a parameter. Writes are refused (``readonly=2``); every
ReplacingMergeTree is read as if ``FINAL``.
"""

from __future__ import annotations

import re

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sinks import metrics
from sinks.exceptions import SinkError, SinkUnavailable
from sinks.overview import overview, overview_health
from sinks.writer import ClickHouseWriter

__all__ = ["build_sql_app"]

_FORMAT_RE = re.compile(r"\bFORMAT\s+(\w+)\s*$", re.IGNORECASE)
_CONTENT_TYPES = {
    "JSON": "application/json",
    "JSONEACHROW": "application/x-ndjson",
    "JSONCOMPACT": "application/json",
    "CSV": "text/csv",
    "CSVWITHNAMES": "text/csv",
}


def build_sql_app(writer: ClickHouseWriter) -> Starlette:
    async def query(request: Request) -> Response:
        sql = request.query_params.get("query", "")
        if request.method == "POST":
            body = (await request.body()).decode("utf-8", "replace")
            sql = f"{sql}\n{body}" if sql else body
        if not sql.strip():
            return PlainTextResponse("Ok.\n")
        fmt = request.query_params.get("default_format", "TabSeparated")
        try:
            out = await anyio.to_thread.run_sync(writer.raw_read, sql, fmt)
        except SinkUnavailable as exc:
            metrics.SQL_QUERIES.labels(status="unavailable").inc()
            return PlainTextResponse(f"{exc}\n", status_code=503)
        except SinkError as exc:
            metrics.SQL_QUERIES.labels(status="error").inc()
            return PlainTextResponse(f"{exc}\n", status_code=400)
        metrics.SQL_QUERIES.labels(status="ok").inc()
        named = _FORMAT_RE.search(sql.strip().rstrip(";"))
        fmt = (named.group(1) if named else fmt).upper()
        media = _CONTENT_TYPES.get(fmt, "text/tab-separated-values; charset=UTF-8")
        return Response(out, media_type=media)

    async def ping(_: Request) -> Response:
        return PlainTextResponse("Ok.\n")

    return Starlette(
        routes=[
            Route("/", query, methods=["GET", "POST"]),
            Route("/ping", ping),
            Route("/overview", overview),
            Route("/overview/health", overview_health),
        ]
    )
