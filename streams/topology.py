"""Which agent modules make up the stream processor.

Each module exposes ``register(ctx: StreamContext) -> None`` and declares its agents,
tables and topics through ``ctx``. Order matters only for readability.
"""

from __future__ import annotations

__all__ = ["AGENT_MODULES"]

AGENT_MODULES: tuple[str, ...] = (
    "streams.agents.stitch",
    "streams.agents.counts",
    "streams.agents.tags",
    "streams.agents.funnels",
    "streams.agents.privacy",
)
