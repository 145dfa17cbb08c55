"""Build the Faust application from Settings."""

from __future__ import annotations

import importlib
import logging

import faust

from siyu import kafka_compat
from siyu.settings import Settings
from streams.context import StreamContext
from streams.topology import AGENT_MODULES

__all__ = ["build_app"]

logger = logging.getLogger(__name__)


def build_app(
    settings: Settings, *, index: int = 0, modules: tuple[str, ...] = AGENT_MODULES
) -> StreamContext:
    """A Faust app with every agent module registered. Installs the consumer patches the
    broker's quirks need (:mod:`siyu.kafka_compat`)."""
    kafka_compat.install(
        settings.kafka.broker_quirks,
        kafka_compat.CONSUMER_PATCHES,
        fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
    )
    w = settings.worker
    datadir = settings.data_dir / "faust" / str(index)
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        w.app_id,
        broker=[f"kafka://{hp}" for hp in settings.kafka.bootstrap.split(",")],
        store=w.store,
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        broker_session_timeout=w.session_timeout_s,
        broker_commit_interval=w.commit_interval_s,
        broker_heartbeat_interval=min(3.0, w.session_timeout_s / 3),
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        # Tansu has no idempotent producer / transactions.
        processing_guarantee="at_least_once",
        producer_acks=-1,
        producer_linger=settings.kafka.producer_linger_ms / 1000,
        table_standby_replicas=0,
        recovery_consistency_check=True,
        datadir=str(datadir),
        autodiscover=False,
        stream_wait_empty=True,
    )
    ctx = StreamContext(app=app, settings=settings)
    for name in modules:
        importlib.import_module(name).register(ctx)
    return ctx
