"""The collector ASGI app: parse (pure), produce, answer.

``build_app(settings, producer)`` receives its producer, so tests inject an in-memory
one and ``siyu collector`` the spooling Kafka one. Routes:

- ``POST /v1/batch``: JSON array, ``{"sent_at", "events"}``, one event or NDJSON; gzip or
  deflate ``Content-Encoding``; ``text/plain`` (sendBeacon) alike.
- ``GET /v1/pixel.gif?data=<base64url>``: image beacon, answers a 1×1 GIF.
- ``POST/GET /sa``, ``GET/POST /sa.gif`` (``?project=``): the Sensors Data wire format.
- ``GET/POST /v1/wecom/callback``, ``GET/POST /v1/wxoa/callback`` (``?project=``): Tencent's
  server callbacks (:mod:`collectors.callbacks`).
- ``GET /healthz``, ``GET /metrics`` (Starlette).

Every known failure is a :class:`CollectorError`, mapped to one answer in ``_answer_error``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from collectors import metrics
from collectors.callbacks import CALLBACK_PATHS, Callbacks
from collectors.cors import CORSMiddleware
from collectors.enrichment import Enricher
from collectors.exceptions import (
    BadBody,
    CollectorError,
    ProduceFailed,
    RateLimited,
    Unauthorized,
    UnknownProject,
)
from collectors.http import Incoming, send_answer
from collectors.ip_privacy import IpPolicy
from collectors.keys import group_by_key
from collectors.limits import Limits
from collectors.parsing import Parsed, inflate, parse_native, parse_pixel
from collectors.producer import EventProducer, Message
from collectors.rate_limits import RateLimits
from collectors.sensors import parse_sensors
from collectors.wire import encode_batch
from schemas.records import DeadLetter, encode_dead_letter
from siyu.settings import Settings

__all__ = ["GIF", "build_app"]

logger = logging.getLogger(__name__)

# The smallest transparent 1×1 GIF.
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
_NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate"}
Parser = Callable[[Incoming, bytes, int, dict[str, str]], Parsed]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class IngestRoute:
    name: str
    """Metric label."""
    source: str
    """``EventBatch.source``: native, pixel, sensors."""
    methods: frozenset[str]
    sensors: bool
    parse: Parser


class _Counters:
    """Prometheus children per label set, resolved once (``labels()`` is slow per call)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], Any] = {}

    def get(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._cache.get(key)
        if child is None:
            child = self._cache[key] = metric.labels(*labels)
        return child


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
        self.write_keys = {
            p.write_key.get_secret_value(): name for name, p in settings.projects.items()
        }
        self.m = _Counters()
        self.rates = RateLimits(settings.collector)
        privacy = settings.privacy
        self.stored_ip = IpPolicy(privacy.ip, privacy.ip_salt.get_secret_value())

    # -- who is sending --------------------------------------------------------------------
    def project_for_key(self, req: Incoming) -> str:
        key = req.headers.get("x-siyu-key") or req.query.get("key") or ""
        project = self.write_keys.get(key)
        if project is None:
            raise Unauthorized("missing or unknown write key (X-Siyu-Key header or key=)")
        return project

    def project_for_sensors(self, req: Incoming) -> str:
        name = req.query.get("project") or "default"
        project = self.settings.projects.get(name)
        if project is None:
            raise UnknownProject(f"unknown project {name[:64]!r} (?project= names a siyu project)")
        token = req.query.get("token")
        if token and token != project.write_key.get_secret_value():
            raise Unauthorized(f"token does not match the write key of project {name[:64]!r}")
        return name

    def decode_body(self, req: Incoming, body: bytes) -> bytes:
        encoding = req.headers.get("content-encoding", "").strip().lower()
        if not encoding or encoding == "identity" or not body:
            return body
        if encoding in ("gzip", "x-gzip", "deflate"):
            # deflate is zlib-wrapped as the RFC says; 47 also takes raw gzip under that name.
            wbits = 31 if encoding != "deflate" else 47
            return inflate(body, wbits=wbits, limit=self.limits.max_decompressed_bytes)
        raise BadBody(
            f"unsupported Content-Encoding {encoding[:32]!r}", status=415, code="bad_encoding"
        )

    # -- producing -------------------------------------------------------------------------
    def dead_letter(
        self,
        project: str,
        route: str,
        ip: str,
        received_at: int,
        *,
        reason: str,
        payload: bytes,
        index: int = -1,
        event_id: str = "",
    ) -> Message:
        dl = DeadLetter(
            project=project,
            received_at=received_at,
            route=route,
            reason=reason,
            payload=payload,
            index=index,
            event_id=event_id,
            ip=ip,
        )
        return (self.dead_topic, project.encode(), encode_dead_letter(dl))

    def messages(
        self, project: str, parsed: Parsed, *, path: str, source: str, ip: str, ua: str, at: int
    ) -> list[Message]:
        out: list[Message] = [
            (self.raw_topic, b.key.encode(), encode_batch(b))
            for b in group_by_key(
                parsed.events,
                project=project,
                received_at=at,
                sent_at=parsed.sent_at,
                ip=ip,
                user_agent=ua,
                source=source,
            )
        ]
        out += [
            self.dead_letter(
                project,
                path,
                ip,
                at,
                reason=f"{r.code}: {r.reason}",
                payload=r.payload,
                index=r.index,
                event_id=r.event_id,
            )
            for r in parsed.rejections
        ]
        return out

    # -- one request -----------------------------------------------------------------------
    async def ingest(self, route: IngestRoute, req: Incoming, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if req.method not in route.methods:
            raise CollectorError(f"{req.method} not allowed here", status=405, code="method")
        project = self.project_for_sensors(req) if route.sensors else self.project_for_key(req)
        req.scope["siyu.project"] = project
        ip = self.enricher.ip(req.peer, req.headers.get("x-forwarded-for"))
        refused = self.rates.check(project, ip, time.monotonic())
        if refused is not None:
            self.m.get(metrics.RATE_LIMITED, route.name, refused.limit).inc()
            raise RateLimited(
                f"too many requests for this {'write key' if refused.limit == 'key' else 'IP'}",
                retry_after_s=refused.retry_after_s,
            )
        if len(req.query_string) > self.limits.max_url_bytes:
            raise BadBody(
                f"query string longer than {self.limits.max_url_bytes} bytes",
                status=413,
                code="too_large",
            )
        raw = await req.body(receive, self.limits.max_body_bytes)
        self.m.get(metrics.BYTES, route.name).inc(len(raw) + len(req.query_string))
        received_at = _now_ms()
        ua = req.headers.get("user-agent", "")[:1024]
        enrichment = self.enricher.enrich(ip, ua)
        ip = self.stored_ip(ip)
        try:
            parsed = route.parse(req, self.decode_body(req, raw), received_at, enrichment)
        except BadBody as exc:
            keep = raw or req.query_string
            await self.producer.send_many(
                [
                    self.dead_letter(
                        project,
                        req.path,
                        ip,
                        received_at,
                        reason=f"{exc.code}: {exc.reason}",
                        payload=keep,
                    )
                ]
            )
            raise
        await self.producer.send_many(
            self.messages(
                project, parsed, path=req.path, source=route.source, ip=ip, ua=ua, at=received_at
            )
        )
        accepted, rejected = len(parsed.events), len(parsed.rejections)
        self.m.get(metrics.EVENTS, route.name, project, "accepted").inc(accepted)
        if rejected:
            self.m.get(metrics.EVENTS, route.name, project, "rejected").inc(rejected)
            for r in parsed.rejections:
                self.m.get(metrics.REJECTIONS, route.name, r.code).inc()
        for _, warnings in parsed.warnings:
            for w in warnings:
                self.m.get(metrics.WARNINGS, w.partition(":")[0]).inc()
        outcome = "ok" if not rejected else ("partial" if accepted else "rejected")
        self.m.get(metrics.REQUESTS, route.name, project, outcome).inc()
        self.m.get(metrics.LATENCY, route.name).observe(time.perf_counter() - started)
        if req.method == "GET":
            headers = {
                **_NO_STORE,
                "X-Siyu-Accepted": str(accepted),
                "X-Siyu-Rejected": str(rejected),
            }
            await send_answer(send, 200, GIF, b"image/gif", headers)
            return
        answer: dict[str, object] = {
            "accepted": accepted,
            "rejected": [
                {"index": r.index, "reason": f"{r.code}: {r.reason}"} for r in parsed.rejections
            ],
        }
        if parsed.warnings:
            answer["warnings"] = [{"index": i, "warnings": list(w)} for i, w in parsed.warnings]
        await send_answer(send, 200, orjson.dumps(answer), b"application/json")

    async def answer_error(
        self, route: str, req: Incoming, exc: CollectorError, send: Send
    ) -> None:
        project = req.scope.get("siyu.project", "-")
        self.m.get(metrics.REQUESTS, route, project, exc.code).inc()
        self.m.get(metrics.REJECTIONS, route, exc.code).inc()
        headers = {}
        if isinstance(exc, ProduceFailed | RateLimited):
            headers["Retry-After"] = str(exc.retry_after_s)
        body = orjson.dumps({"error": exc.reason, "code": exc.code})
        await send_answer(send, exc.status, body, b"application/json", headers)


def _routes(limits: Limits) -> dict[str, IngestRoute]:
    def native(req: Incoming, body: bytes, at: int, enrichment: dict[str, str]) -> Parsed:
        ctype = req.headers.get("content-type", "")
        ndjson = "ndjson" in ctype or "jsonl" in ctype
        return parse_native(
            body, received_at=at, limits=limits, ndjson=ndjson, enrichment=enrichment
        )

    def pixel(req: Incoming, _: bytes, at: int, enrichment: dict[str, str]) -> Parsed:
        data = req.query.get("data", "")
        return parse_pixel(data, received_at=at, limits=limits, enrichment=enrichment)

    def sensors(req: Incoming, body: bytes, at: int, enrichment: dict[str, str]) -> Parsed:
        return parse_sensors(req.query, body, received_at=at, limits=limits, enrichment=enrichment)

    post, get, both = frozenset({"POST"}), frozenset({"GET"}), frozenset({"GET", "POST"})
    return {
        "/v1/batch": IngestRoute("batch", "native", post, False, native),
        "/v1/pixel.gif": IngestRoute("pixel", "pixel", get, False, pixel),
        "/sa": IngestRoute("sa", "sensors", both, True, sensors),
        "/sa.gif": IngestRoute("sa.gif", "sensors", both, True, sensors),
    }


class _Dispatch:
    """Ingestion paths go straight to the collector; the rest to Starlette."""

    def __init__(self, collector: Collector, callbacks: Callbacks, other: ASGIApp) -> None:
        self.collector = collector
        self.callbacks = callbacks
        self.other = other
        self.routes = _routes(collector.limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        route = self.routes.get(path) if scope["type"] == "http" else None
        if route is None and path in CALLBACK_PATHS and scope["type"] == "http":
            await self.callbacks.handle(Incoming(scope), receive, send)
            return
        if route is None:
            await self.other(scope, receive, send)
            return
        req = Incoming(scope)
        try:
            await self.collector.ingest(route, req, receive, send)
        except CollectorError as exc:
            await self.collector.answer_error(route.name, req, exc, send)


def build_app(settings: Settings, producer: EventProducer) -> ASGIApp:
    collector = Collector(settings, producer)
    callbacks = Callbacks(settings, producer, max_body_bytes=collector.limits.max_body_bytes)

    async def healthz(_: Request) -> Response:
        state = getattr(producer, "state", None)
        body = orjson.dumps({"status": "ok", **(state() if state else {})})
        return Response(body, media_type="application/json")

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await producer.start()
        try:
            yield
        finally:
            await callbacks.drain()
            await producer.stop()

    other = Starlette(
        routes=[Route("/healthz", healthz), Route("/metrics", prometheus)], lifespan=lifespan
    )
    return CORSMiddleware(
        _Dispatch(collector, callbacks, other), origins=settings.collector.cors_origins
    )
