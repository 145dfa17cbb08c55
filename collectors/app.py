"""The collector ASGI app: parse (pure), produce, answer.

``build_app(settings, producer)`` receives its producer, so tests inject an in-memory
one and ``siyu collector`` an aiokafka one.
"""

from __future__ import annotations

import contextlib
import logging
import time
import zlib
from collections.abc import AsyncIterator

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collectors import metrics
from collectors.exceptions import BadBody, CollectorError, ProduceFailed, Unauthorized
from collectors.parsing import Limits, Parsed, group_by_key, parse_native
from collectors.producer import EventProducer, Message
from schemas.records import DeadLetter, encode_batch, encode_dead_letter
from siyu.settings import Settings

__all__ = ["build_app"]

logger = logging.getLogger(__name__)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Collector:
    def __init__(self, settings: Settings, producer: EventProducer) -> None:
        self.settings = settings
        self.producer = producer
        c = settings.collector
        self.limits = Limits(
            max_events=c.max_events_per_batch,
            max_future_ms=c.max_future_ms,
            max_past_ms=c.max_past_ms,
        )
        self.raw_topic = settings.kafka.topic("events.raw")
        self.dead_topic = settings.kafka.topic("events.deadletter")

    def project_of(self, request: Request) -> str:
        key = request.headers.get("x-siyu-key") or request.query_params.get("key") or ""
        project = self.settings.project_for_write_key(key)
        if project is None:
            raise Unauthorized("missing or unknown write key (X-Siyu-Key header or key=)")
        return project

    async def read_body(self, request: Request) -> bytes:
        limit = self.settings.collector.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BadBody(f"body larger than {limit} bytes", status=413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadBody(f"body larger than {limit} bytes", status=413)
            chunks.append(chunk)
        body = b"".join(chunks)
        encoding = request.headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate"):
            body = self.inflate(body, gzip=encoding == "gzip")
        return body

    def inflate(self, body: bytes, *, gzip: bool) -> bytes:
        limit = self.settings.collector.max_decompressed_bytes
        d = zlib.decompressobj(wbits=31 if gzip else 15)
        try:
            out = d.decompress(body, limit + 1)
        except zlib.error as exc:
            raise BadBody(f"cannot decompress body: {exc}") from exc
        if len(out) > limit or d.unconsumed_tail:
            raise BadBody(f"body larger than {limit} bytes once decompressed", status=413)
        return out

    async def publish(self, project: str, parsed: Parsed, request: Request, route: str) -> None:
        received_at = _now_ms()
        ip = request.client.host if request.client else ""
        messages: list[Message] = [
            (self.raw_topic, b.key.encode(), encode_batch(b))
            for b in group_by_key(
                parsed.events,
                project=project,
                received_at=received_at,
                sent_at=parsed.sent_at,
                ip=ip,
                user_agent=request.headers.get("user-agent", ""),
                source="native",
            )
        ]
        messages += [
            (
                self.dead_topic,
                project.encode(),
                encode_dead_letter(
                    DeadLetter(
                        project=project,
                        received_at=received_at,
                        route=route,
                        reason=r.reason,
                        payload=r.payload,
                        index=r.index,
                        event_id=r.event_id,
                        ip=ip,
                    )
                ),
            )
            for r in parsed.rejections
        ]
        await self.producer.send_many(messages)

    async def dead_letter_body(self, project: str, body: bytes, reason: str, route: str) -> None:
        dl = DeadLetter(
            project=project, received_at=_now_ms(), route=route, reason=reason, payload=body[:65536]
        )
        await self.producer.send_many([(self.dead_topic, project.encode(), encode_dead_letter(dl))])


def build_app(settings: Settings, producer: EventProducer) -> Starlette:
    collector = Collector(settings, producer)

    async def batch(request: Request) -> Response:
        started = time.perf_counter()
        project = collector.project_of(request)
        body = await collector.read_body(request)
        metrics.BYTES.labels(route="batch").inc(len(body))
        try:
            parsed = parse_native(body, received_at=_now_ms(), limits=collector.limits)
        except BadBody as exc:
            await collector.dead_letter_body(project, body, exc.reason, "/v1/batch")
            raise
        await collector.publish(project, parsed, request, "/v1/batch")
        metrics.EVENTS.labels(project=project, outcome="accepted").inc(len(parsed.events))
        metrics.EVENTS.labels(project=project, outcome="rejected").inc(len(parsed.rejections))
        metrics.LATENCY.labels(route="batch").observe(time.perf_counter() - started)
        metrics.REQUESTS.labels(route="batch", status="200").inc()
        return Response(
            orjson.dumps(
                {
                    "accepted": len(parsed.events),
                    "rejected": [{"index": r.index, "reason": r.reason} for r in parsed.rejections],
                }
            ),
            media_type="application/json",
        )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CollectorError)  # noqa: S101 - registered for this type only
        metrics.REQUESTS.labels(route=request.url.path, status=str(exc.status)).inc()
        headers = {}
        if isinstance(exc, ProduceFailed):
            headers["Retry-After"] = str(exc.retry_after_s)
        return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await producer.start()
        try:
            yield
        finally:
            await producer.stop()

    return Starlette(
        routes=[
            Route("/v1/batch", batch, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/metrics", prometheus),
        ],
        exception_handlers={CollectorError: on_error},
        lifespan=lifespan,
    )
