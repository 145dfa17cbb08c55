"""Prometheus metrics of identity resolution (served with the worker's metrics)."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["CONFLICTS", "LINKS", "MERGES", "RETRIES", "ROUTED"]

ROUTED = Counter(
    "siyu_identity_events_total",
    "Events stitched, by path: fast (graph unchanged) or link (serialized)",
    ["path"],
)
LINKS = Counter("siyu_identity_link_decisions_total", "Link decisions by outcome", ["outcome"])
MERGES = Counter("siyu_identity_merges_total", "Users merged into an older user")
CONFLICTS = Counter(
    "siyu_identity_conflicts_total", "Links refused by the identity rules", ["reason"]
)
RETRIES = Counter(
    "siyu_identity_retries_dropped_total",
    "Events dropped as client retries (same event_id in a later record)",
)
