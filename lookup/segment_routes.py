"""Lookup routes for segments and webhook subscriptions.

Read routes (``GET /v1/segments``, members, export) take the project's read key (or its
admin key); ``POST /v1/segments`` and ``/v1/subscriptions`` take the admin key
(``X-Siyu-Key`` or ``Authorization: Bearer``). Changes are published on their
configuration topics (the workers and the webhook process follow them) and applied to
this process's view at once, so a GET right after the POST sees them.
"""

from __future__ import annotations

import base64
import csv
import io
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import anyio.lowlevel
import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from lookup.index import IdentityIndex
from lookup.segment_index import SegmentIndex, SubscriptionIndex
from schemas.segment_records import (
    SegmentDefinitionRecord,
    Subscription,
    encode_definition,
    encode_subscription,
)
from siyu.settings import Settings
from streams.domain.segments import SegmentError, compile_segment
from webhooks.targets import own_listeners, target_problem

__all__ = ["Publisher", "segment_routes"]

# Largest page of members; the default is smaller.
_MAX_PAGE = 10_000
_DEFAULT_PAGE = 1000


class Publisher(Protocol):
    async def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        """Publish one record to a siyu topic (name without prefix); returns once acked."""


def _error(status: int, code: str, message: str) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json")


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def _key(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-siyu-key") or request.query_params.get("key") or ""


def _cursor(user_id: str) -> str:
    return base64.urlsafe_b64encode(user_id.encode()).decode().rstrip("=")


def _after(cursor: str) -> str:
    padded = cursor + "=" * (-len(cursor) % 4)
    return base64.b64decode(padded.encode(), altchars=b"-_", validate=True).decode()


Handler = Callable[[Request], Awaitable[Response]]


def segment_routes(
    settings: Settings,
    identities: IdentityIndex,
    segments: SegmentIndex,
    subscriptions: SubscriptionIndex,
    publish: Publisher,
) -> list[Route]:
    listeners = own_listeners(settings)

    def admin(handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
        async def run(request: Request) -> Response:
            project = settings.project_for_admin_key(_key(request))
            if project is None:
                return _error(401, "unauthorized", "missing or unknown admin key (X-Siyu-Key)")
            return await handler(request, project)

        return run

    def reader(handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
        async def run(request: Request) -> Response:
            key = _key(request)
            project = settings.project_for_read_key(key) or settings.project_for_admin_key(key)
            if project is None:
                return _error(401, "unauthorized", "missing or unknown read key (X-Siyu-Key)")
            return await handler(request, project)

        return run

    async def body_of(request: Request) -> dict[str, Any] | Response:
        try:
            doc = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return _error(400, "invalid_json", f"the body is not JSON: {exc}")
        if not isinstance(doc, dict):
            return _error(400, "invalid_body", "the body must be a JSON object")
        return doc

    # -- segments ------------------------------------------------------------------------
    async def list_segments(_: Request, project: str) -> Response:
        runtime = segments.definitions.runtime.get(project, {})
        return _json(
            {
                "segments": [
                    {
                        "name": d.name,
                        "expression": d.expression,
                        "description": d.description,
                        "source": "api" if d.name in runtime else "file",
                        "members": segments.count(project, d.name),
                    }
                    for d in segments.definitions.for_project(project)
                ]
            }
        )

    async def define_segment(request: Request, project: str) -> Response:
        doc = await body_of(request)
        if isinstance(doc, Response):
            return doc
        name, expression = doc.get("name"), doc.get("expression")
        description = doc.get("description", "")
        if not isinstance(name, str) or not isinstance(expression, str):
            return _error(400, "invalid_body", 'the body needs "name" and "expression" strings')
        if not isinstance(description, str):
            return _error(400, "invalid_body", '"description" must be a string')
        try:
            definition = compile_segment(name, expression, description=description)
        except SegmentError as exc:
            found: dict[str, Any] = {"code": "invalid_segment", "message": exc.reason}
            if exc.line:
                found["position"] = {"line": exc.line, "column": exc.column}
            return _json({"error": found}, 400)
        record = SegmentDefinitionRecord(
            project, name, expression, int(time.time() * 1000), description
        )
        await publish("segments.definitions", record.key, encode_definition(record))
        segments.define(project, definition, name)
        return _json({"name": name, "expression": expression, "description": description}, 201)

    def known(project: str, name: str) -> bool:
        return any(d.name == name for d in segments.definitions.for_project(project))

    async def members(request: Request, project: str) -> Response:
        name = request.path_params["name"]
        if not known(project, name):
            return _error(404, "unknown_segment", f"no segment {name!r}")
        try:
            after = _after(request.query_params.get("cursor", ""))
            limit = int(request.query_params.get("limit", _DEFAULT_PAGE))
        except (ValueError, UnicodeDecodeError):
            return _error(400, "invalid_cursor", "cursor or limit is not valid")
        if not 1 <= limit <= _MAX_PAGE:
            return _error(400, "invalid_limit", f"limit must be within 1…{_MAX_PAGE}")
        page = segments.page(project, name, after, limit)
        more = len(page) == limit and bool(segments.page(project, name, page[-1], 1))
        return _json(
            {
                "segment": name,
                "users": page,
                "next_cursor": _cursor(page[-1]) if more else None,
            }
        )

    async def export(request: Request, project: str) -> Response:
        name = request.path_params["name"]
        if not known(project, name):
            return _error(404, "unknown_segment", f"no segment {name!r}")
        fmt = request.query_params.get("format", "jsonl")
        if fmt not in ("jsonl", "csv"):
            return _error(400, "invalid_format", "format must be jsonl or csv")

        async def rows() -> AsyncIterator[bytes]:
            if fmt == "csv":
                yield b"user_id,identities\r\n"
            for i, user in enumerate(segments.iterate(project, name)):
                ids = identities.identities(project, user)
                if fmt == "jsonl":
                    yield orjson.dumps({"user_id": user, "identities": ids}) + b"\n"
                else:
                    out = io.StringIO()
                    csv.writer(out).writerow([user, orjson.dumps(ids).decode()])
                    yield out.getvalue().encode()
                if i % 1000 == 999:
                    await (
                        anyio.lowlevel.checkpoint()
                    )  # let other requests through on a large export

        media = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
        disposition = f'attachment; filename="{name}.{fmt}"'
        return StreamingResponse(
            rows(), media_type=media, headers={"Content-Disposition": disposition}
        )

    # -- subscriptions -------------------------------------------------------------------
    async def subscribe(request: Request, project: str) -> Response:
        doc = await body_of(request)
        if isinstance(doc, Response):
            return doc
        url, secret = doc.get("url"), doc.get("secret")
        wanted_segments, wanted_tags = doc.get("segments", []), doc.get("tags", [])
        if not isinstance(url, str) or not isinstance(secret, str) or not secret:
            return _error(400, "invalid_body", 'the body needs "url" and a non-empty "secret"')
        if not all(isinstance(v, list) for v in (wanted_segments, wanted_tags)) or not all(
            isinstance(x, str) for x in [*wanted_segments, *wanted_tags]
        ):
            return _error(400, "invalid_body", '"segments" and "tags" must be lists of names')
        if not wanted_segments and not wanted_tags:
            return _error(400, "invalid_body", "subscribe to at least one segment or tag")
        problem = await anyio.to_thread.run_sync(target_problem, url, listeners)
        if problem is not None:
            return _error(400, "invalid_target", problem)
        sub = Subscription(
            id=f"sub_{secrets.token_hex(8)}",
            project=project,
            url=url,
            secret=secret,
            segments=tuple(wanted_segments),
            tags=tuple(wanted_tags),
            created_at=int(time.time() * 1000),
        )
        await publish("webhooks.subscriptions", sub.id.encode(), encode_subscription(sub))
        subscriptions.apply(sub)
        return _json({"id": sub.id}, 201)

    async def list_subscriptions(_: Request, project: str) -> Response:
        return _json({"subscriptions": [s.public() for s in subscriptions.of_project(project)]})

    async def one_subscription(request: Request, project: str) -> Response:
        found = subscriptions.get(request.path_params["id"])
        if found is None or found.project != project:
            return _error(404, "unknown_subscription", "no such subscription")
        if request.method == "GET":
            return _json(found.public())
        gone = Subscription(
            found.id, project, found.url, found.secret, found.segments, found.tags,
            found.created_at, deleted=True,
        )  # fmt: skip
        await publish("webhooks.subscriptions", gone.id.encode(), encode_subscription(gone))
        subscriptions.apply(gone)
        return Response(status_code=204)

    async def segments_root(request: Request) -> Response:
        if request.method == "POST":
            return await admin(define_segment)(request)
        return await reader(list_segments)(request)

    async def subscriptions_root(request: Request) -> Response:
        if request.method == "POST":
            return await admin(subscribe)(request)
        return await admin(list_subscriptions)(request)

    return [
        Route("/v1/segments", segments_root, methods=["GET", "POST"]),
        Route("/v1/segments/{name}/users", reader(members), methods=["GET"]),
        Route("/v1/segments/{name}/export", reader(export), methods=["GET"]),
        Route("/v1/subscriptions", subscriptions_root, methods=["GET", "POST"]),
        Route("/v1/subscriptions/{id}", admin(one_subscription), methods=["GET", "DELETE"]),
    ]
