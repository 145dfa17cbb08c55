"""Collector errors; each maps to one HTTP answer in :mod:`collectors.app`.

``code`` is a short stable label (metrics, dead letters); ``reason`` the detail for people.
"""

from __future__ import annotations

from siyu.exceptions import TrackingError

__all__ = [
    "BadBody",
    "CollectorError",
    "ProduceFailed",
    "RateLimited",
    "SpoolFull",
    "Unauthorized",
    "UnknownProject",
]


class CollectorError(TrackingError):
    status = 400
    code = "bad_request"

    def __init__(self, reason: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class BadBody(CollectorError):
    """The request body cannot be read at all (bad JSON, gzip, base64, UTF-8, too large)."""

    code = "bad_body"


class Unauthorized(CollectorError):
    status = 401
    code = "unauthorized"


class UnknownProject(CollectorError):
    """A Sensors route named a project siyu does not have."""

    status = 404
    code = "unknown_project"


class ProduceFailed(CollectorError):
    """Neither Kafka nor the local spool took the events: the client must retry."""

    status = 503
    code = "unavailable"

    def __init__(self, reason: str, *, retry_after_s: int = 5) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class SpoolFull(ProduceFailed):
    """The spool reached ``spool_max_bytes`` while Kafka is away."""

    code = "spool_full"


class RateLimited(CollectorError):
    """A write key or a client IP is over its rate (``SIYU_COLLECTOR_RATE_*``)."""

    status = 429
    code = "rate_limited"

    def __init__(self, reason: str, *, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s
