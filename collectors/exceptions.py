"""Collector errors; each maps to one HTTP answer in :mod:`collectors.app`."""

from __future__ import annotations

from siyu.exceptions import TrackingError

__all__ = ["BadBody", "CollectorError", "ProduceFailed", "Unauthorized"]


class CollectorError(TrackingError):
    status = 400

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status


class BadBody(CollectorError):
    """The request body cannot be read at all (bad JSON, gzip, base64, UTF-8, too large)."""


class Unauthorized(CollectorError):
    status = 401


class ProduceFailed(CollectorError):
    """Neither Kafka nor the local spool took the events: the client must retry."""

    status = 503

    def __init__(self, reason: str, *, retry_after_s: int = 5) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s
