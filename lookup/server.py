"""Entry point of the lookup process (``siyu lookup``): the view, its feed, the API.

A process of its own rather than a route inside a stream worker: a worker's event loop
runs batches of hundreds of events between two awaits, which would put whole
milliseconds of queueing in front of a lookup, and a worker owns only its partitions
while a lookup needs every user. Here the loop serves requests and applies small steps
of the feed (see :mod:`lookup.feed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable

from aiokafka import AIOKafkaProducer
from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.log import LogLevels
from starlette.applications import Starlette

from lookup.app import build_app
from lookup.feed import Feed
from lookup.index import IdentityIndex, TagIndex
from lookup.segment_index import PropertyIndex, SegmentIndex, SubscriptionIndex
from lookup.segment_routes import segment_routes
from schemas.exceptions import SchemaError
from schemas.segment_records import decode_definition, decode_subscription
from siyu.config_topics import ConfigTopic
from siyu.settings import Settings
from streams.agents.identity_config import load_rules
from streams.domain.segments import SegmentError, compile_segment
from streams.segment_files import load_segments

__all__ = ["app_from_env", "make_app", "serve"]

logger = logging.getLogger(__name__)


def _exit_on_failure(task: asyncio.Task[None]) -> None:
    """A feed that stopped for good leaves a stale view: stop, so the supervisor restarts."""
    if task.cancelled() or task.exception() is None:
        return
    logger.error("lookup feed failed: %r; stopping", task.exception())
    os.kill(os.getpid(), signal.SIGTERM)


def _definition_applier(segments: SegmentIndex) -> Callable[[bytes], None]:
    def apply(value: bytes) -> None:
        try:
            d = decode_definition(value)
            definition = (
                None
                if d.deleted
                else compile_segment(
                    d.name, d.expression, description=d.description, updated_at=d.updated_at
                )
            )
        except (SchemaError, SegmentError) as exc:
            logger.warning("segment definition skipped: %s", exc)
            return
        segments.define(d.project, definition, d.name)

    return apply


def _subscription_applier(subscriptions: SubscriptionIndex) -> Callable[[bytes], None]:
    def apply(value: bytes) -> None:
        try:
            subscriptions.apply(decode_subscription(value))
        except SchemaError as exc:
            logger.warning("subscription record skipped: %s", exc)

    return apply


def make_app(settings: Settings) -> Starlette:
    identities, tags = IdentityIndex(), TagIndex()
    properties = PropertyIndex()
    segments = SegmentIndex(load_segments(settings.segments.file))
    subscriptions = SubscriptionIndex()
    feed = Feed(settings, identities, tags, properties=properties, segments=segments)
    config = [
        ConfigTopic(settings.kafka, "segments.definitions", _definition_applier(segments)),
        ConfigTopic(settings.kafka, "webhooks.subscriptions", _subscription_applier(subscriptions)),
    ]
    held: dict[str, AIOKafkaProducer] = {}

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        await held["producer"].send_and_wait(settings.kafka.topic(topic), key=key, value=value)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
        await producer.start()
        held["producer"] = producer
        task = asyncio.create_task(feed.run(stop))
        task.add_done_callback(_exit_on_failure)
        followers = [asyncio.create_task(c.run(stop)) for c in config]
        for follower in followers:
            follower.add_done_callback(_exit_on_failure)
        try:
            yield
        finally:
            stop.set()
            for t in (task, *followers):
                with contextlib.suppress(asyncio.CancelledError):
                    t.cancel()
                    await t
            await producer.stop()

    return build_app(
        settings,
        load_rules(settings),
        identities,
        tags,
        ready=lambda: feed.ready and all(c.caught_up.is_set() for c in config),
        lifespan=lifespan,
        properties=properties,
        segments=segments,
        routes=segment_routes(settings, identities, segments, subscriptions, publish),
    )


def app_from_env() -> Starlette:
    """App factory run inside the server's worker process (settings from ``SIYU_*``)."""
    return make_app(Settings())


def serve(settings: Settings) -> None:
    """Serve with Granian (Rust HTTP): about a third less CPU per lookup than uvicorn
    with h11 on the same app (docs/identity.md), which is what keeps p99 low when the
    machine is busy. One worker: the view lives in that process."""
    lookup = settings.lookup
    Granian(
        "lookup.server:app_from_env",
        factory=True,
        address=lookup.host,
        port=lookup.port,
        interface=Interfaces.ASGI,
        workers=1,
        http=HTTPModes.http1,
        loop=Loops.auto,
        log_level=LogLevels.warning,
        workers_kill_timeout=10,
        respawn_failed_workers=True,
    ).serve()
