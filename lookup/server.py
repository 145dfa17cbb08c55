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
from collections.abc import AsyncIterator

from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.log import LogLevels
from starlette.applications import Starlette

from lookup.app import build_app
from lookup.feed import Feed
from lookup.index import IdentityIndex, TagIndex
from siyu.settings import Settings
from streams.agents.identity_config import load_rules

__all__ = ["app_from_env", "make_app", "serve"]

logger = logging.getLogger(__name__)


def _exit_on_failure(task: asyncio.Task[None]) -> None:
    """A feed that stopped for good leaves a stale view: stop, so the supervisor restarts."""
    if task.cancelled() or task.exception() is None:
        return
    logger.error("lookup feed failed: %r; stopping", task.exception())
    os.kill(os.getpid(), signal.SIGTERM)


def make_app(settings: Settings) -> Starlette:
    identities, tags = IdentityIndex(), TagIndex()
    feed = Feed(settings, identities, tags)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(feed.run(stop))
        task.add_done_callback(_exit_on_failure)
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                task.cancel()
                await task

    return build_app(
        settings,
        load_rules(settings),
        identities,
        tags,
        ready=lambda: feed.ready,
        lifespan=lifespan,
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
