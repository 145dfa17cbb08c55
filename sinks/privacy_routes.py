"""``GET /v1/privacy/export`` on the sink's HTTP server: a person's rows, for the lookup API.

Only the process that owns chDB can read it, so the lookup's export asks here. The
project's admin key is required (``X-Siyu-Key``).
"""

from __future__ import annotations

import hmac
from datetime import date, datetime
from typing import Any

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sinks.privacy import PersonTables, find_person
from sinks.writer import ClickHouseWriter
from siyu.settings import Settings

__all__ = ["export_person", "privacy_routes"]


def _json(doc: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(doc, default=_plain), status_code=status, media_type="application/json"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(type(value).__name__)


def export_person(
    writer: ClickHouseWriter, project: str, id_type: str, id_value: str
) -> dict[str, Any]:
    """Every row held about the person, per table, and the person's user ids/identities."""
    tables = PersonTables(writer)
    tables.discover()
    person = find_person(writer, project, id_type, id_value)
    return {
        "user_ids": list(person.users),
        "identities": [{"id_type": t, "id_value": v} for t, v in person.identities],
        "tables": tables.export(person) if person.users else {},
    }


def privacy_routes(writer: ClickHouseWriter, settings: Settings) -> list[Route]:
    async def export(request: Request) -> Response:
        params = request.query_params
        project = settings.projects.get(params.get("project", ""))
        key = request.headers.get("x-siyu-key", "")
        admin = project.admin_key.get_secret_value() if project and project.admin_key else ""
        if not key or not admin or not hmac.compare_digest(key, admin):
            return _json({"error": {"code": "unauthorized", "message": "admin key required"}}, 401)
        doc = await anyio.to_thread.run_sync(
            export_person,
            writer,
            params["project"],
            params.get("id_type", ""),
            params.get("id_value", ""),
        )
        return Response(orjson.dumps(doc, default=_plain), media_type="application/json")

    return [Route("/v1/privacy/export", export)]
