"""Read-only SQL over HTTP, in the style of ClickHouse's HTTP interface.

chDB allows one process per data directory, so the process that owns it (the sink)
serves queries for ``siyu sql``, tests and local dashboards: ``GET /?query=…`` or
``POST /`` with the query as body, ``FORMAT JSON|JSONEachRow|TSV|CSV`` in the query or
``default_format`` as a parameter. Every ReplacingMergeTree is read as if ``FINAL``.

Access (docs/security.md): basic auth as ClickHouse does it (user = project, password =
its read key; ``X-ClickHouse-User``/``X-ClickHouse-Key`` and ``X-Siyu-Key`` also work).
A project's key sees its own project's views only; the ``siyu_operator`` user sees every
table. Each query is checked and rewritten by :mod:`sinks.sql_guard`, then run with
``readonly = 1`` and the limits of :class:`siyu.settings.SqlSettings`.
Every answer carries ``X-Siyu-Endpoint: sql``; errors have siyu's one shape.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

import anyio
import anyio.to_thread
import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

from sinks import metrics
from sinks.exceptions import SinkError, SinkUnavailable
from sinks.overview import overview, overview_health
from sinks.privacy_routes import privacy_routes
from sinks.project_views import ProjectViews, project_database
from sinks.sql_guard import QueryRefused, Scope, guard
from sinks.writer import ClickHouseWriter
from siyu.http_errors import EXCEPTION_HANDLERS
from siyu.settings import Settings

__all__ = ["ENDPOINT_HEADER", "OPERATOR", "build_sql_app"]

logger = logging.getLogger(__name__)

OPERATOR = "siyu_operator"
"""The user that reads every project (password: ``SIYU_SQL_OPERATOR_KEY``)."""
_CLICKHOUSE_USERS = {"", "default"}
_CONTENT_TYPES = {
    "JSON": "application/json",
    "JSONEachRow": "application/x-ndjson",
    "JSONCompact": "application/json",
    "CSV": "text/csv",
    "CSVWithNames": "text/csv",
}


# Every answer names the endpoint, so `siyu sql` can tell it from another server (a
# ClickHouse, say) that happens to listen on the configured port.
ENDPOINT_HEADER = "x-siyu-endpoint"


class _Identify:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-siyu-endpoint", b"sql")]
            await send(message)

        await self.app(scope, receive, send_named)


class _Denied(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    headers = {"WWW-Authenticate": 'Basic realm="siyu"'} if status == 401 else None
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _credentials(request: Request) -> tuple[str, str]:
    """``(user, key)`` from basic auth, ClickHouse's headers/parameters or X-Siyu-Key."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            user, _, key = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return user, key
    params, headers = request.query_params, request.headers
    user = headers.get("x-clickhouse-user") or params.get("user") or ""
    key = (
        headers.get("x-siyu-key")
        or headers.get("x-clickhouse-key")
        or params.get("password")
        or params.get("key")
        or ""
    )
    return user, key


class _Access:
    def __init__(self, settings: Settings, views: ProjectViews) -> None:
        self.settings = settings
        self.views = views
        operator = settings.sql.operator_key
        self.operator_key = operator.get_secret_value() if operator else None
        self.read_keys = {
            name: p.read_key.get_secret_value() for name, p in settings.projects.items()
        }

    def scope(self, request: Request) -> Scope:
        user, key = _credentials(request)
        if not key:
            raise _Denied(401, "missing_key", "a read key is required (basic auth or X-Siyu-Key)")
        if user == OPERATOR:
            if self.operator_key and hmac.compare_digest(key, self.operator_key):
                return Scope(
                    database="siyu",
                    tables=frozenset(),
                    other_databases=frozenset({"system"}),
                )
            raise _Denied(401, "wrong_key", "unknown user or key")
        project = next((n for n, k in self.read_keys.items() if hmac.compare_digest(key, k)), None)
        if project is None:
            raise _Denied(401, "wrong_key", "unknown user or key")
        if user not in _CLICKHOUSE_USERS and user != project:
            raise _Denied(403, "other_project", "this key does not read that project")
        return Scope(database=project_database(project), tables=self.views.tables)


def build_sql_app(writer: ClickHouseWriter, settings: Settings) -> Starlette:
    views = ProjectViews(writer)
    views.build(settings.projects)
    access = _Access(settings, views)
    limits = settings.sql
    query_settings: dict[str, int | float | str] = {
        "max_execution_time": limits.max_execution_s,
        "max_memory_usage": limits.max_memory_bytes,
        "max_result_rows": limits.max_result_rows,
        "result_overflow_mode": "throw",
        "max_rows_to_read": limits.max_rows_to_read,
        "max_threads": limits.max_threads,
        "final": 1,
        "readonly": 1,
    }
    running = anyio.CapacityLimiter(limits.concurrency)

    async def query(request: Request) -> Response:
        try:
            scope = access.scope(request)
        except _Denied as exc:
            metrics.SQL_REFUSED.labels(reason=exc.code).inc()
            return _error(exc.status, exc.code, exc.message)
        sql = request.query_params.get("query", "")
        if request.method == "POST":
            body = (await request.body()).decode("utf-8", "replace")
            sql = f"{sql}\n{body}" if sql else body
        if not sql.strip():
            return PlainTextResponse("Ok.\n")
        try:
            checked = guard(sql, scope, request.query_params.get("default_format", "TSV"))
        except QueryRefused as exc:
            metrics.SQL_REFUSED.labels(reason=exc.code).inc()
            return _error(400, exc.code, exc.message)
        run_settings = query_settings if checked.kind == "select" else {"readonly": 1}
        try:
            out = await anyio.to_thread.run_sync(
                writer.read, checked.sql, run_settings, checked.fmt, limiter=running
            )
        except SinkUnavailable as exc:
            metrics.SQL_QUERIES.labels(status="unavailable").inc()
            return _error(503, "unavailable", str(exc))
        except SinkError as exc:
            metrics.SQL_QUERIES.labels(status="error").inc()
            return _error(400, "query_failed", str(exc))
        metrics.SQL_QUERIES.labels(status="ok").inc()
        media = _CONTENT_TYPES.get(checked.fmt, "text/tab-separated-values; charset=UTF-8")
        return Response(out, media_type=media)

    async def ping(_: Request) -> Response:
        return PlainTextResponse("Ok.\n")

    async def page(request: Request) -> Response:
        try:
            access.scope(request)
        except _Denied as exc:
            metrics.SQL_REFUSED.labels(reason=exc.code).inc()
            return _error(exc.status, exc.code, exc.message)
        return await overview(request)

    async def health(request: Request) -> Response:
        try:
            access.scope(request)
        except _Denied as exc:
            metrics.SQL_REFUSED.labels(reason=exc.code).inc()
            return _error(exc.status, exc.code, exc.message)
        return await overview_health(settings)

    return Starlette(
        routes=[
            Route("/", query, methods=["GET", "POST"]),
            Route("/ping", ping),
            Route("/overview", page),
            Route("/overview/health", health),
            *privacy_routes(writer, settings),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[Middleware(_Identify)],
    )
