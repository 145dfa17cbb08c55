"""Processes of the identity benchmark: ``python -m bench.identity_procs MODE PORT``.

- ``worker``: a Faust worker running only the identity agents (streams.agents.stitch);
- ``lookup``: the lookup API, its view fed from identity.map (no ClickHouse bootstrap);
- ``echo``: the same server answering a constant body (the latency baseline).

Settings come from ``SIYU_*`` like every siyu process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

import faust
import orjson
from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.log import LogLevels
from prometheus_client import start_http_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lookup.app import build_app as build_lookup_app
from lookup.feed import Feed
from lookup.index import IdentityIndex, TagIndex
from siyu.settings import Settings
from streams import metrics
from streams.agents.identity_config import load_rules
from streams.app import build_app


class _Worker(faust.Worker):
    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        metrics.READY.set(1)


def worker(settings: Settings) -> None:
    ctx = build_app(settings, modules=("streams.agents.stitch",))
    start_http_server(settings.worker.metrics_port, addr="127.0.0.1")
    # INFO as in streams/worker.py: at WARNING and above Faust adds a terminal spinner
    # that sets the root logger to DEBUG, and every debug record then costs CPU.
    _Worker(ctx.app, loglevel="INFO", quiet=True, redirect_stdouts=False).execute_from_commandline()


def lookup_app(settings: Settings) -> Starlette:
    identities, tags = IdentityIndex(), TagIndex()
    feed = Feed(settings, identities, tags)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(feed.follow(stop))
        yield
        stop.set()
        await task

    return build_lookup_app(
        settings,
        load_rules(settings),
        identities,
        tags,
        ready=lambda: feed.ready,
        lifespan=lifespan,
    )


def echo_app() -> Starlette:
    body = orjson.dumps(
        {
            "user_id": "u0123456789abcdef",
            "identities": {"anonymous_id": ["anon-00000001"]},
            "tags": {},
            "updated_at": 0,
        }
    )

    async def answer(_: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/v1/users/{t}/{v:path}", answer), Route("/healthz", answer)])


def lookup_from_env() -> Starlette:
    return lookup_app(Settings())


def main(mode: str, port: int) -> None:
    """The lookup's server (lookup/server.py) with the benchmark's app factories."""
    if mode == "worker":
        worker(Settings())
        return
    factory = "lookup_from_env" if mode == "lookup" else "echo_app"
    Granian(
        f"bench.identity_procs:{factory}",
        factory=True,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        http=HTTPModes.http1,
        loop=Loops.auto,
        log_level=LogLevels.warning,
    ).serve()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
