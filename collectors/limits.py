"""The collector's input limits, built once from :class:`siyu.settings.CollectorSettings`."""

from __future__ import annotations

from dataclasses import dataclass

from siyu.settings import CollectorSettings

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request and one event may hold. Every field is a setting (``SIYU_COLLECTOR_*``)."""

    max_body_bytes: int = 1_048_576
    max_decompressed_bytes: int = 8_388_608
    max_url_bytes: int = 131_072
    max_events: int = 1000
    max_properties: int = 500
    max_name_length: int = 128
    max_depth: int = 8
    max_value_bytes: int = 16_384
    max_future_ms: int = 23 * 3600 * 1000
    max_past_ms: int = 2 * 365 * 86400 * 1000

    @classmethod
    def from_settings(cls, c: CollectorSettings) -> Limits:
        return cls(
            max_body_bytes=c.max_body_bytes,
            max_decompressed_bytes=c.max_decompressed_bytes,
            max_url_bytes=c.max_url_bytes,
            max_events=c.max_events_per_batch,
            max_properties=c.max_properties,
            max_name_length=c.max_name_length,
            max_depth=c.max_depth,
            max_value_bytes=c.max_value_bytes,
            max_future_ms=c.max_future_ms,
            max_past_ms=c.max_past_ms,
        )
