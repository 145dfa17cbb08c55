"""Entry point of the collector process (``siyu collector``).

Granian (Rust HTTP, ASGI interface) serves by default; uvicorn stays selectable
(``SIYU_COLLECTOR_SERVER=uvicorn``). docs/collector.md has the measurements behind the
choice. Both stop gracefully on SIGTERM: the listener closes, in-flight requests finish,
then the lifespan shutdown flushes the Kafka producer and the spool.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp

from collectors import metrics
from collectors.app import build_app
from collectors.confirm import ClickHouseConfirmer
from collectors.delivery import SpoolingProducer
from collectors.outbox import Outbox
from collectors.producer import KafkaEventProducer
from siyu import kafka_compat
from siyu.broker_quirks import for_kafka
from siyu.settings import Settings

__all__ = ["app_from_env", "make_producer", "serve"]

logger = logging.getLogger(__name__)

# Seconds a worker may take to finish in-flight requests and flush after SIGTERM.
_GRACEFUL_S = 10


def make_producer(settings: Settings) -> SpoolingProducer:
    c = settings.collector
    kafka_compat.install(settings.kafka.broker_quirks, kafka_compat.PRODUCER_PATCHES)
    # Only a broker that forgets what it acknowledged needs it; a real Kafka keeps its log.
    outbox = (
        Outbox(max_bytes=c.outbox_max_bytes, resend_after_ms=int(c.outbox_resend_after_s * 1000))
        if for_kafka(settings.kafka).forgets_log and c.outbox_max_bytes
        else None
    )
    if outbox is not None:
        metrics.OUTBOX_BYTES.set_function(lambda: outbox.size_bytes)
        metrics.OUTBOX_RESENT.set_function(lambda: outbox.resent)
        metrics.OUTBOX_DROPPED.set_function(lambda: outbox.dropped)
    return SpoolingProducer(
        KafkaEventProducer(
            bootstrap=settings.kafka.bootstrap,
            timeout_s=c.produce_timeout_s,
            linger_ms=settings.kafka.producer_linger_ms,
            outbox=outbox,
            outbox_topic=settings.kafka.topic("events.raw"),
            confirm=ClickHouseConfirmer(settings).confirmed,
            confirm_interval_s=c.outbox_confirm_interval_s,
        ),
        settings.spool_dir,
        timeout_s=c.produce_timeout_s,
        max_bytes=c.spool_max_bytes,
        segment_bytes=c.spool_segment_bytes,
    )


def app_from_env() -> ASGIApp:
    """App factory run inside each server worker process (settings from ``SIYU_*``)."""
    settings = Settings()
    return build_app(settings, make_producer(settings))


def serve(settings: Settings) -> None:
    c = settings.collector
    if c.server == "granian":
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces, Loops
        from granian.log import LogLevels

        Granian(
            "collectors.server:app_from_env",
            factory=True,
            address=c.host,
            port=c.port,
            interface=Interfaces.ASGI,
            workers=c.workers,
            http=HTTPModes.http1,
            loop=Loops.auto,
            backlog=2048,
            log_enabled=True,
            log_level=LogLevels.warning,
            workers_kill_timeout=_GRACEFUL_S + 5,
            respawn_failed_workers=True,
        ).serve()
        return
    import uvicorn

    uvicorn.run(
        "collectors.server:app_from_env",
        factory=True,
        host=c.host,
        port=c.port,
        workers=c.workers if c.workers > 1 else None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=_GRACEFUL_S,
        h11_max_incomplete_event_size=c.max_url_bytes + 16_384,
    )
