"""Prometheus metrics of the collector (served on its own ``/metrics``).

Label values are bounded: ``route`` is one of the collector's route names, ``project``
a configured project (unknown ones are refused before anything is counted by project),
``reason`` a stable rejection code, never free text.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BYTES",
    "CALLBACKS",
    "CALLBACK_EVENTS",
    "CALLBACK_PRODUCE_FAILED",
    "EVENTS",
    "LATENCY",
    "PRODUCER_QUEUE",
    "RATE_LIMITED",
    "REJECTIONS",
    "REQUESTS",
    "SPOOLED",
    "SPOOL_AGE",
    "SPOOL_BYTES",
    "WARNINGS",
]

REQUESTS = Counter(
    "siyu_collector_requests_total",
    "HTTP requests by route, project and outcome (ok, rejected, bad_body, unauthorized, …)",
    ["route", "project", "outcome"],
)
EVENTS = Counter(
    "siyu_collector_events_total",
    "Events by route, project and outcome (accepted, rejected)",
    ["route", "project", "outcome"],
)
REJECTIONS = Counter(
    "siyu_collector_rejections_total",
    "Rejected events and unreadable bodies by route and reason code",
    ["route", "reason"],
)
WARNINGS = Counter(
    "siyu_collector_warnings_total",
    "Accepted events with a normalization warning (junk identity, coerced type, clock)",
    ["kind"],
)
BYTES = Counter("siyu_collector_bytes_total", "Request bytes received (as sent)", ["route"])
LATENCY = Histogram(
    "siyu_collector_request_seconds",
    "Request latency by route",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PRODUCER_QUEUE = Gauge(
    "siyu_collector_producer_queue", "Kafka messages sent and not yet acknowledged"
)
SPOOLED = Counter(
    "siyu_collector_spooled_total", "Kafka messages written to the disk spool", ["outcome"]
)
SPOOL_BYTES = Gauge("siyu_collector_spool_bytes", "Spooled bytes not yet replayed to Kafka")
SPOOL_AGE = Gauge(
    "siyu_collector_spool_oldest_seconds", "Age of the oldest spooled message not yet replayed"
)

# Tencent's server callbacks (WeCom, official account): outcome is ok, verified, duplicate,
# bad_signature, stale_timestamp, bad_payload, unknown_project, not_configured, …
CALLBACKS = Counter(
    "siyu_collector_callbacks_total",
    "Tencent server callbacks by kind (wecom, wxoa), project and outcome",
    ["kind", "project", "outcome"],
)
CALLBACK_EVENTS = Counter(
    "siyu_collector_callback_events_total",
    "siyu events made from accepted callbacks",
    ["kind", "project"],
)
CALLBACK_PRODUCE_FAILED = Counter(
    "siyu_collector_callback_produce_failed_total",
    "Callback messages neither Kafka nor the spool took (after Tencent was answered)",
)
RATE_LIMITED = Counter(
    "siyu_collector_rate_limited_total",
    "Requests refused by a rate limit (limit: key or ip)",
    ["route", "limit"],
)
