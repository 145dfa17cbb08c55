"""Sink errors, flagged the way callers act on them."""

from __future__ import annotations

from siyu.exceptions import TrackingError

__all__ = ["SinkError", "SinkRejected", "SinkUnavailable"]


class SinkError(TrackingError):
    """Root of sink errors. ``retriable`` tells the caller whether to try again."""

    retriable = False

    def __init__(self, message: str, *, table: str = "") -> None:
        super().__init__(message)
        self.table = table


class SinkUnavailable(SinkError):
    """ClickHouse cannot be reached or is overloaded: retry with backoff, commit nothing."""

    retriable = True


class SinkRejected(SinkError):
    """ClickHouse refused the statement or data: retrying the same input will not help."""
