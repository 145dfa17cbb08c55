"""Entry point of one stream worker process."""

from __future__ import annotations

import logging

import faust
from prometheus_client import start_http_server

from siyu.settings import Settings
from streams import metrics
from streams.app import build_app

__all__ = ["run_worker"]

logger = logging.getLogger(__name__)


class _Worker(faust.Worker):
    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        # Tables are recovered and agents consume: the supervisor may start the collector.
        metrics.READY.set(1)


def run_worker(settings: Settings, *, index: int = 0) -> None:
    """Run until SIGTERM/SIGINT; Faust commits offsets and flushes on the way out."""
    ctx = build_app(settings, index=index)
    start_http_server(settings.worker.metrics_port + index, addr=settings.worker.metrics_host)
    worker = _Worker(ctx.app, loglevel="INFO", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
