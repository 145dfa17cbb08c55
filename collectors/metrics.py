"""Prometheus metrics of the collector (served on its own ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["BYTES", "EVENTS", "LATENCY", "REQUESTS"]

REQUESTS = Counter(
    "siyu_collector_requests_total", "HTTP requests by route and status", ["route", "status"]
)
EVENTS = Counter(
    "siyu_collector_events_total", "Events by project and outcome", ["project", "outcome"]
)
BYTES = Counter("siyu_collector_bytes_total", "Request body bytes received", ["route"])
LATENCY = Histogram(
    "siyu_collector_request_seconds",
    "Request latency by route",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
