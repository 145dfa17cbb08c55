"""Entry point of the collector process."""

from __future__ import annotations

import uvicorn

from collectors.app import build_app
from collectors.producer import KafkaEventProducer
from siyu.settings import Settings

__all__ = ["serve"]


def serve(settings: Settings) -> None:
    producer = KafkaEventProducer(
        bootstrap=settings.kafka.bootstrap, timeout_s=settings.collector.produce_timeout_s
    )
    uvicorn.run(
        build_app(settings, producer),
        host=settings.collector.host,
        port=settings.collector.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
