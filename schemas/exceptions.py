"""Errors of the schemas package."""

from __future__ import annotations

from siyu.exceptions import TrackingError

__all__ = ["SchemaError"]


class SchemaError(TrackingError):
    """A record does not fit its schema, or bytes are not a record we know."""

    def __init__(self, message: str, *, schema: str) -> None:
        super().__init__(f"{schema}: {message}")
        self.schema = schema
