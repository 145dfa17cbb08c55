"""Privacy routes of the lookup API: forget (``DELETE``) and export one person.

``DELETE /v1/users/{id_type}/{id_value}`` with the project's admin key answers ``202``
with a request id: the person leaves the lookup view at once, and the request goes on
``privacy.requests`` to the sink, which removes the person everywhere else
(sinks/privacy_service.py). It answers ``202`` whether or not the person is known, so
the answer tells nothing about who is stored. ``GET …/export`` answers everything held
about the person (``404`` when nothing is).
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lookup import metrics
from lookup.index import IdentityIndex, TagIndex, view
from schemas.privacy_records import PrivacyRequest, encode_request
from siyu.settings import Settings
from streams.domain.identity_model import USER_ID
from streams.domain.identity_rules import IdentityRules

__all__ = ["privacy_routes", "publish_request"]

logger = logging.getLogger(__name__)


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    metrics.PRIVACY.labels(outcome=code).inc()
    return _json({"error": {"code": code, "message": message}}, status)


async def publish_request(settings: Settings, request: PrivacyRequest) -> None:
    """Send one request to ``privacy.requests`` and wait until the broker has it."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.kafka.topic("privacy.requests"),
            key=request.request_id.encode(),
            value=encode_request(request),
        )
    finally:
        await producer.stop()


def privacy_routes(
    settings: Settings, rules: IdentityRules, identities: IdentityIndex, tags: TagIndex
) -> list[Route]:
    admin_keys = {
        p.admin_key.get_secret_value(): name
        for name, p in settings.projects.items()
        if p.admin_key is not None
    }
    read_keys = {p.read_key.get_secret_value() for p in settings.projects.values()}

    def project_of(request: Request) -> str | Response:
        key = request.headers.get("x-siyu-key", "")
        bearer = request.headers.get("authorization", "")
        if not key and bearer[:7].lower() == "bearer ":
            key = bearer[7:].strip()
        for admin, project in admin_keys.items():
            if key and hmac.compare_digest(key, admin):
                return project
        if key in read_keys:
            return _error(403, "forbidden", "a read key cannot manage personal data")
        return _error(401, "unauthorized", "the project's admin key is required")

    def identity_of(request: Request) -> tuple[str, str] | None:
        id_type = request.path_params["id_type"]
        id_value = request.path_params["id_value"]
        if id_type == USER_ID:
            return id_type, id_value
        found = rules.normalize(id_type, id_value)
        return (found.key, found.value) if found is not None else None

    async def forget(request: Request) -> Response:
        project = project_of(request)
        if isinstance(project, Response):
            return project
        identity = identity_of(request)
        if identity is None:
            return _error(400, "bad_identity", "not a known identity type or value")
        user = identities.resolve(project, *identity)
        if user is not None:
            identities.forget(project, user)
            tags.forget(project, user)
        record = PrivacyRequest(
            request_id=uuid.uuid4().hex,
            project=project,
            action="forget",
            id_type=identity[0],
            id_value=identity[1],
            requested_at=int(time.time() * 1000),
            raw_type=request.path_params["id_type"],
            raw_value=request.path_params["id_value"],
        )
        try:
            await publish_request(settings, record)
        except KafkaError as exc:
            logger.warning("forget request not queued: Kafka unavailable (%s)", type(exc).__name__)
            return _error(503, "unavailable", "the request could not be queued; try again")
        metrics.PRIVACY.labels(outcome="forget_accepted").inc()
        logger.info("forget request %s accepted", record.request_id)
        return _json({"request_id": record.request_id, "status": "accepted"}, 202)

    async def export(request: Request) -> Response:
        project = project_of(request)
        if isinstance(project, Response):
            return project
        identity = identity_of(request)
        if identity is None:
            return _error(404, "not_found", "unknown person")
        user = identities.resolve(project, *identity)
        found = view(identities, tags, project, user) if user is not None else None
        stored = await _stored(settings, project, identity)
        if found is None and not stored.get("user_ids"):
            return _error(404, "not_found", "unknown person")
        metrics.PRIVACY.labels(outcome="export").inc()
        return _json(
            {
                "project": project,
                "lookup": None
                if found is None
                else {"user_id": found.user_id, "identities": found.identities, "tags": found.tags},
                **stored,
            }
        )

    return [
        Route("/v1/users/{id_type}/{id_value:path}/export", export, methods=["GET"]),
        Route("/v1/users/{id_type}/{id_value:path}", forget, methods=["DELETE"]),
    ]


async def _stored(settings: Settings, project: str, identity: tuple[str, str]) -> dict[str, Any]:
    """What ClickHouse holds about the person, from the process that owns it."""
    admin = settings.projects[project].admin_key
    params = {"project": project, "id_type": identity[0], "id_value": identity[1]}
    if settings.clickhouse.url is not None:
        import anyio.to_thread

        from sinks.main import open_writer
        from sinks.privacy_routes import export_person

        writer = open_writer(settings)
        try:
            return await anyio.to_thread.run_sync(export_person, writer, project, *identity)
        finally:
            writer.close()
    sql = settings.sql
    async with httpx.AsyncClient(timeout=60) as client:
        answer = await client.get(
            f"http://{sql.host}:{sql.port}/v1/privacy/export",
            params=params,
            headers={"X-Siyu-Key": admin.get_secret_value() if admin else ""},
        )
    answer.raise_for_status()
    doc: dict[str, Any] = answer.json()
    return doc
