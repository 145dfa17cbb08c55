"""Prometheus metrics of the stream workers (served on ``SIYU_WORKER_METRICS_PORT``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "DEFINITIONS_LOADED",
    "EVENTS",
    "ITEMS",
    "ITEMS_UPDATED",
    "READY",
    "RECORD_SECONDS",
    "SEEDED",
]

EVENTS = Counter("siyu_stream_events_total", "Events processed by agent and outcome", ["agent"])
RECORD_SECONDS = Histogram(
    "siyu_stream_record_seconds", "Time to process one Kafka record", ["agent"]
)
READY = Gauge("siyu_stream_ready", "1 once the worker has started its agents")
SEEDED = Counter(
    "siyu_stream_seeded_keys_total", "Keys republished into empty changelogs", ["table"]
)
DEFINITIONS_LOADED = Gauge(
    "siyu_stream_definitions_loaded_timestamp_seconds",
    "When the worker's tag or segment definitions (with the live-code registry) last took effect",
    ["kind"],
)
ITEMS = Gauge("siyu_stream_items", "Items currently set in the worker's item catalogue")
ITEMS_UPDATED = Gauge(
    "siyu_stream_items_updated_timestamp_seconds",
    "When the worker's item catalogue last took a change (item_set / item_delete)",
)
