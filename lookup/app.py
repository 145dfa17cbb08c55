"""The lookup API: ``GET /v1/users/{id_type}/{id_value}`` answered from memory.

A read key (``X-Siyu-Key`` header or ``key=``) names the project; a lookup only ever
sees that project's users. A write key is refused (403): write keys ship inside apps
and pages, read keys stay on servers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lookup import metrics
from lookup.index import IdentityIndex, TagIndex, view
from lookup.privacy import privacy_routes
from lookup.segment_index import PropertyIndex, SegmentIndex
from siyu.settings import Settings
from streams.domain.identity_model import USER_ID
from streams.domain.identity_rules import IdentityRules

__all__ = ["build_app"]

logger = logging.getLogger(__name__)

Lifespan = Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def build_app(
    settings: Settings,
    rules: IdentityRules,
    identities: IdentityIndex,
    tags: TagIndex,
    *,
    ready: Callable[[], bool] = lambda: True,
    lifespan: Lifespan | None = None,
    properties: PropertyIndex | None = None,
    segments: SegmentIndex | None = None,
    routes: Sequence[Route] = (),
) -> Starlette:
    """``properties`` and ``segments`` complete the user answer; ``routes`` are the
    segment and subscription routes (lookup/segment_routes.py)."""
    properties = properties or PropertyIndex()
    segments = segments or SegmentIndex()
    read_keys = {p.read_key.get_secret_value(): name for name, p in settings.projects.items()}
    write_keys = {p.write_key.get_secret_value() for p in settings.projects.values()}

    async def user(request: Request) -> Response:
        key = request.headers.get("x-siyu-key") or request.query_params.get("key") or ""
        project = read_keys.get(key)
        if project is None:
            status = 403 if key in write_keys else 401
            metrics.REQUESTS.labels(status=str(status)).inc()
            reason = "a write key cannot read" if status == 403 else "missing or unknown read key"
            return _json({"error": f"{reason} (X-Siyu-Key header or key=)"}, status)
        id_type = request.path_params["id_type"]
        id_value = request.path_params["id_value"]
        if id_type != USER_ID:
            identity = rules.normalize(id_type, id_value)
            if identity is None:
                metrics.REQUESTS.labels(status="404").inc()
                return _json({"error": f"{id_type!r} is not a known identity type or value"}, 404)
            id_type, id_value = identity.key, identity.value
        user_id = identities.resolve(project, id_type, id_value)
        found = view(identities, tags, project, user_id) if user_id is not None else None
        if found is None:
            metrics.REQUESTS.labels(status="404").inc()
            return _json({"error": "unknown user"}, 404)
        metrics.REQUESTS.labels(status="200").inc()
        props, props_at = properties.get(project, found.user_id)
        return _json(
            {
                "user_id": found.user_id,
                "identities": found.identities,
                "tags": found.tags,
                "properties": props,
                "segments": segments.segments_of(project, found.user_id),
                "updated_at": max(found.updated_at, props_at),
            }
        )

    async def healthz(_: Request) -> Response:
        if not ready():
            return _json({"status": "starting"}, 503)
        return _json({"status": "ok", "identities": len(identities), "tagged_users": len(tags)})

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def no_lifespan(_: Starlette) -> AsyncIterator[None]:
        yield

    return Starlette(
        routes=[
            *privacy_routes(settings, rules, identities, tags),
            Route("/v1/users/{id_type}/{id_value:path}", user, methods=["GET"]),
            Route("/healthz", healthz),
            Route("/metrics", prometheus),
            *routes,
        ],
        lifespan=lifespan or no_lifespan,
    )
