"""The collector ASGI app: parse (pure), produce, answer.

``build_app(settings, producer)`` receives its producer, so tests inject an in-memory
one and ``siyu collector`` the spooling Kafka one. Routes:

- ``POST /v1/batch``: JSON array, ``{"sent_at", "events"}``, one event or NDJSON; gzip or
  deflate ``Content-Encoding``; ``text/plain`` (sendBeacon) alike.
- ``GET /v1/pixel.gif?data=<base64url>``: image beacon, answers a 1×1 GIF.
- ``POST/GET /sa``, ``GET/POST /sa.gif`` (``?project=``): the Sensors Data wire format.
- ``GET /healthz``, ``GET /metrics``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from collectors import metrics
from collectors.cors import CORSMiddleware
from collectors.enrichment import Enricher
from collectors.exceptions import (
    BadBody,
    CollectorError,
    ProduceFailed,
    Unauthorized,
    UnknownProject,
)
from collectors.keys import group_by_key
from collectors.limits import Limits
from collectors.parsing import Parsed, inflate, parse_native, parse_pixel
from collectors.producer import EventProducer, Message
from collectors.sensors import parse_sensors
from schemas.records import DeadLetter, encode_batch, encode_dead_letter
from siyu.settings import Settings

__all__ = ["GIF", "build_app"]

logger = logging.getLogger(__name__)

# The smallest transparent 1×1 GIF.
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
_NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate"}
Parser = Callable[[Request, bytes, int, dict[str, str]], Parsed]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Collector:
    def __init__(self, settings: Settings, producer: EventProducer) -> None:
        self.settings = settings
        self.producer = producer
        self.limits = Limits.from_settings(settings.collector)
        self.enricher = Enricher(
            trusted_proxies=settings.collector.trusted_proxies,
            ip2region_db=settings.collector.ip2region_db,
        )
        self.raw_topic = settings.kafka.topic("events.raw")
        self.dead_topic = settings.kafka.topic("events.deadletter")

    # -- who is sending --------------------------------------------------------------------
    def project_for_key(self, request: Request) -> str:
        key = request.headers.get("x-siyu-key") or request.query_params.get("key") or ""
        project = self.settings.project_for_write_key(key)
        if project is None:
            raise Unauthorized("missing or unknown write key (X-Siyu-Key header or key=)")
        request.scope["siyu.project"] = project
        return project

    def project_for_sensors(self, request: Request) -> str:
        name = request.query_params.get("project") or "default"
        project = self.settings.projects.get(name)
        if project is None:
            raise UnknownProject(f"unknown project {name[:64]!r} (?project= names a siyu project)")
        token = request.query_params.get("token")
        if token and token != project.write_key.get_secret_value():
            raise Unauthorized(f"token does not match the write key of project {name!r}")
        request.scope["siyu.project"] = name
        return name

    # -- reading ---------------------------------------------------------------------------
    async def read_body(self, request: Request) -> bytes:
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BadBody(f"body larger than {limit} bytes", status=413, code="too_large")
        if len(request.scope.get("query_string", b"")) > self.limits.max_url_bytes:
            raise BadBody(
                f"query string longer than {self.limits.max_url_bytes} bytes",
                status=413,
                code="too_large",
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadBody(f"body larger than {limit} bytes", status=413, code="too_large")
            chunks.append(chunk)
        return b"".join(chunks)

    def decode_body(self, request: Request, body: bytes) -> bytes:
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if not encoding or encoding == "identity" or not body:
            return body
        if encoding in ("gzip", "x-gzip", "deflate"):
            # deflate: zlib-wrapped as the RFC says; auto-detect also takes gzip here.
            wbits = 31 if encoding != "deflate" else 47
            return inflate(body, wbits=wbits, limit=self.limits.max_decompressed_bytes)
        raise BadBody(
            f"unsupported Content-Encoding {encoding[:32]!r}", status=415, code="bad_encoding"
        )

    # -- producing -------------------------------------------------------------------------
    def dead_letter(
        self, project: str, route: str, ip: str, received_at: int, **fields: object
    ) -> Message:
        dl = DeadLetter(project=project, received_at=received_at, route=route, ip=ip, **fields)  # type: ignore[arg-type]
        return (self.dead_topic, project.encode(), encode_dead_letter(dl))

    async def publish(
        self,
        project: str,
        parsed: Parsed,
        *,
        route: str,
        source: str,
        ip: str,
        user_agent: str,
        received_at: int,
    ) -> None:
        messages: list[Message] = [
            (self.raw_topic, b.key.encode(), encode_batch(b))
            for b in group_by_key(
                parsed.events,
                project=project,
                received_at=received_at,
                sent_at=parsed.sent_at,
                ip=ip,
                user_agent=user_agent,
                source=source,
            )
        ]
        messages += [
            self.dead_letter(
                project,
                route,
                ip,
                received_at,
                reason=f"{r.code}: {r.reason}",
                payload=r.payload,
                index=r.index,
                event_id=r.event_id,
            )
            for r in parsed.rejections
        ]
        await self.producer.send_many(messages)

    async def ingest(
        self, request: Request, *, route: str, source: str, project: str, parse: Parser, gif: bool
    ) -> Response:
        started = time.perf_counter()
        body = self.decode_body(request, raw := await self.read_body(request))
        metrics.BYTES.labels(route=route).inc(
            len(raw) + len(request.scope.get("query_string", b""))
        )
        received_at = _now_ms()
        peer = request.client.host if request.client else ""
        ip = self.enricher.ip(peer, request.headers.get("x-forwarded-for"))
        user_agent = request.headers.get("user-agent", "")[:1024]
        enrichment = self.enricher.enrich(ip, user_agent)
        path = request.url.path
        try:
            parsed = parse(request, body, received_at, enrichment)
        except BadBody as exc:
            metrics.REJECTIONS.labels(route=route, reason=exc.code).inc()
            keep = body if body else request.scope.get("query_string", b"")
            await self.producer.send_many(
                [
                    self.dead_letter(
                        project,
                        path,
                        ip,
                        received_at,
                        reason=f"{exc.code}: {exc.reason}",
                        payload=keep,
                    )
                ]
            )
            raise
        await self.publish(
            project,
            parsed,
            route=path,
            source=source,
            ip=ip,
            user_agent=user_agent,
            received_at=received_at,
        )
        accepted, rejected = len(parsed.events), len(parsed.rejections)
        metrics.EVENTS.labels(route=route, project=project, outcome="accepted").inc(accepted)
        if rejected:
            metrics.EVENTS.labels(route=route, project=project, outcome="rejected").inc(rejected)
            for r in parsed.rejections:
                metrics.REJECTIONS.labels(route=route, reason=r.code).inc()
        for _, warnings in parsed.warnings:
            for w in warnings:
                metrics.WARNINGS.labels(kind=w.partition(":")[0]).inc()
        outcome = "ok" if not rejected else ("partial" if accepted else "rejected")
        metrics.REQUESTS.labels(route=route, project=project, outcome=outcome).inc()
        metrics.LATENCY.labels(route=route).observe(time.perf_counter() - started)
        if gif:
            headers = {
                **_NO_STORE,
                "X-Siyu-Accepted": str(accepted),
                "X-Siyu-Rejected": str(rejected),
            }
            return Response(GIF, media_type="image/gif", headers=headers)
        answer: dict[str, object] = {
            "accepted": accepted,
            "rejected": [
                {"index": r.index, "reason": f"{r.code}: {r.reason}"} for r in parsed.rejections
            ],
        }
        if parsed.warnings:
            answer["warnings"] = [{"index": i, "warnings": list(w)} for i, w in parsed.warnings]
        return Response(orjson.dumps(answer), media_type="application/json")


def build_app(settings: Settings, producer: EventProducer) -> ASGIApp:
    collector = Collector(settings, producer)
    limits = collector.limits

    def native(
        request: Request, body: bytes, received_at: int, enrichment: dict[str, str]
    ) -> Parsed:
        ctype = request.headers.get("content-type", "")
        return parse_native(
            body,
            received_at=received_at,
            limits=limits,
            ndjson="ndjson" in ctype or "jsonl" in ctype,
            enrichment=enrichment,
        )

    def pixel(request: Request, _: bytes, received_at: int, enrichment: dict[str, str]) -> Parsed:
        return parse_pixel(
            request.query_params.get("data", ""),
            received_at=received_at,
            limits=limits,
            enrichment=enrichment,
        )

    def sensors(
        request: Request, body: bytes, received_at: int, enrichment: dict[str, str]
    ) -> Parsed:
        return parse_sensors(
            request.query_params,
            body,
            received_at=received_at,
            limits=limits,
            enrichment=enrichment,
        )

    async def batch(request: Request) -> Response:
        project = collector.project_for_key(request)
        return await collector.ingest(
            request, route="batch", source="native", project=project, parse=native, gif=False
        )

    async def pixel_gif(request: Request) -> Response:
        project = collector.project_for_key(request)
        return await collector.ingest(
            request, route="pixel", source="pixel", project=project, parse=pixel, gif=True
        )

    async def sa(request: Request) -> Response:
        project = collector.project_for_sensors(request)
        route = "sa.gif" if request.url.path.endswith(".gif") else "sa"
        return await collector.ingest(
            request,
            route=route,
            source="sensors",
            project=project,
            parse=sensors,
            gif=request.method == "GET",
        )

    async def healthz(_: Request) -> Response:
        state = getattr(producer, "state", None)
        return Response(
            orjson.dumps({"status": "ok", **(state() if state else {})}),
            media_type="application/json",
        )

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def on_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, CollectorError):  # registered for this type only
            raise exc
        route = _ROUTE_NAMES.get(request.url.path, "other")
        project = request.scope.get("siyu.project", "-")
        metrics.REQUESTS.labels(route=route, project=project, outcome=exc.code).inc()
        if not isinstance(exc, BadBody):
            metrics.REJECTIONS.labels(route=route, reason=exc.code).inc()
        headers = {}
        if isinstance(exc, ProduceFailed):
            headers["Retry-After"] = str(exc.retry_after_s)
        body = orjson.dumps({"error": exc.reason, "code": exc.code})
        return Response(
            body, status_code=exc.status, headers=headers, media_type="application/json"
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await producer.start()
        try:
            yield
        finally:
            await producer.stop()

    app = Starlette(
        routes=[
            Route("/v1/batch", batch, methods=["POST"]),
            Route("/v1/pixel.gif", pixel_gif, methods=["GET"]),
            Route("/sa", sa, methods=["GET", "POST"]),
            Route("/sa.gif", sa, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/metrics", prometheus),
        ],
        exception_handlers={CollectorError: on_error},
        lifespan=lifespan,
    )
    return CORSMiddleware(app, origins=settings.collector.cors_origins)


_ROUTE_NAMES = {"/v1/batch": "batch", "/v1/pixel.gif": "pixel", "/sa": "sa", "/sa.gif": "sa.gif"}
