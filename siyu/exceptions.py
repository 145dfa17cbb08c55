"""Root of every siyu error."""

from __future__ import annotations

__all__ = ["TrackingError"]


class TrackingError(Exception):
    """Base class of all errors raised by siyu's own code."""
