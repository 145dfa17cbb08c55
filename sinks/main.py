"""Entry point of the sink process: migrations, seeding, SQL endpoint, consume loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn
from prometheus_client import start_http_server

from schemas.state_value import clear_origins
from sinks.definitions import SqlDefinitions
from sinks.privacy_service import PrivacyService
from sinks.qr_codes import watch_qr_codes
from sinks.retention import apply_retention
from sinks.seeding import seed_empty_changelogs, seed_empty_config_topics
from sinks.service import SinkService, load_routes
from sinks.sql_endpoint import build_sql_app
from sinks.writer import ClickHouseWriter
from siyu.settings import Settings
from streams.funnel_config import load_funnels
from streams.qr_registry import registry_path
from streams.tag_files import load_definitions

__all__ = ["open_writer", "serve"]

logger = logging.getLogger(__name__)


class _OwnSignalsServer(uvicorn.Server):
    """Leaves SIGTERM/SIGINT to the sink: it flushes before the SQL endpoint goes away."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def open_writer(settings: Settings) -> ClickHouseWriter:
    password = settings.clickhouse.password
    return ClickHouseWriter(
        url=settings.clickhouse.url,
        chdb_path=settings.chdb_path,
        password=password.get_secret_value() if password else None,
        cluster=settings.clickhouse.cluster,
    )


def sql_definitions(settings: Settings) -> SqlDefinitions:
    """The definitions the migrations share with the workers: zones and funnels."""
    zones = {name: p.timezone for name, p in settings.projects.items()}
    scenes = load_definitions(settings.tags.file).scenes
    return SqlDefinitions.build(zones, load_funnels(settings.worker.funnels_file), scenes)


async def serve(settings: Settings) -> None:
    writer = open_writer(settings)
    writer.migrate(sql_definitions(settings))
    apply_retention(writer, settings.privacy.retention_days)
    start_http_server(settings.sink.metrics_port, addr=settings.sink.metrics_host)
    seeded = await seed_empty_changelogs(
        writer,
        bootstrap=settings.kafka.bootstrap,
        app_id=settings.worker.app_id,
        partitions=settings.kafka.partitions,
        replication=settings.kafka.replication_factor,
        transform=clear_origins,
    )
    if seeded:
        logger.info("seeded empty changelogs from ClickHouse: %s", seeded)
    await seed_empty_config_topics(
        writer, bootstrap=settings.kafka.bootstrap, topic=settings.kafka.topic
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    service = SinkService(settings, writer, load_routes(settings))
    sql_server: uvicorn.Server | None = None
    sql_task: asyncio.Task[None] | None = None
    if writer.embedded:
        config = uvicorn.Config(
            build_sql_app(writer, settings),
            host=settings.sql.host,
            port=settings.sql.port,
            log_level="warning",
            lifespan="off",
        )
        sql_server = _OwnSignalsServer(config)
        sql_task = asyncio.create_task(sql_server.serve())
    qr_task = asyncio.create_task(watch_qr_codes(writer, registry_path(settings.tags.file), stop))
    privacy = asyncio.create_task(PrivacyService(settings, writer).run(stop))
    try:
        await service.run(stop)
    finally:
        stop.set()
        await qr_task
        privacy.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await privacy
        logger.info("sink stopped after writing %d rows", service.rows_written)
        if sql_server is not None and sql_task is not None:
            sql_server.should_exit = True
            await sql_task
        writer.close()
