"""Prometheus metrics of the webhook delivery process, per subscription."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["BACKLOG", "DELIVERED", "FAILED", "LATENCY", "OVERFLOW"]

DELIVERED = Counter(
    "siyu_webhook_delivered_total", "Deliveries the receiver accepted (2xx)", ["subscription"]
)
FAILED = Counter(
    "siyu_webhook_failed_total",
    "Failed attempts by outcome (retry, failed: refused by a 4xx, dead_letter)",
    ["subscription", "outcome"],
)
LATENCY = Histogram(
    "siyu_webhook_latency_seconds",
    "From the change being computed to its delivery being accepted",
    ["subscription"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400),
)
BACKLOG = Gauge("siyu_webhook_backlog", "Deliveries waiting or being retried", ["subscription"])
OVERFLOW = Counter(
    "siyu_webhook_overflow_total",
    "Changes not queued because the subscription already held max_pending (dead letters)",
    ["subscription"],
)
