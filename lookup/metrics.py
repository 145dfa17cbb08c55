"""Prometheus metrics of the lookup service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["APPLIED", "PRIVACY", "REQUESTS", "USERS_INDEXED"]

REQUESTS = Counter("siyu_lookup_requests_total", "Lookup requests by HTTP status", ["status"])
APPLIED = Counter(
    "siyu_lookup_records_total", "Records applied to the lookup view by source", ["source"]
)
USERS_INDEXED = Gauge("siyu_lookup_identities", "Identities held by the lookup view")
PRIVACY = Counter(
    "siyu_lookup_privacy_total",
    "Privacy requests (forget, export) and their refusals by outcome",
    ["outcome"],
)
