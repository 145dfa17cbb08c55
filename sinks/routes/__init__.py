"""Sink routes, one module per area. Each exposes ``routes(settings) -> list[Route]``."""

from __future__ import annotations

__all__ = ["ROUTE_MODULES"]

ROUTE_MODULES: tuple[str, ...] = (
    "sinks.routes.events",
    "sinks.routes.funnels",
    "sinks.routes.tags",
    "sinks.routes.identity",
    "sinks.routes.state",
    "sinks.routes.segments",
)
