"""What ``siyu run`` tells the user while it starts and stops the stack.

``starting broker … ready in 1.2 s`` per start stage, and while stopping, the records each
stage still has to process. A ``Progress`` without a stream says nothing (tests, library use).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TextIO

__all__ = ["Progress"]

# Drain progress is printed at most this often, and whenever the stage set changes.
_DRAIN_EVERY_S = 1.0


class Progress:
    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self._last_drain = 0.0
        self._stage_started: float | None = None

    def _write(self, text: str) -> None:
        if self._out is not None:
            self._out.write(text)
            self._out.flush()

    def line(self, text: str) -> None:
        self._write(text + "\n")

    def begin(self, what: str, verb: str = "starting") -> None:
        """``starting <what> … ``; the previous stage, if any, is reported ready."""
        self.end()
        self._write(f"{verb} {what} … ")
        self._stage_started = time.monotonic()

    def end(self) -> None:
        """``ready in 1.2 s`` for the stage begun last (nothing when none is open)."""
        if self._stage_started is not None:
            self._write(f"ready in {time.monotonic() - self._stage_started:.1f} s\n")
            self._stage_started = None

    def fail(self) -> None:
        """``failed after 3.0 s`` for the stage begun last (nothing when none is open)."""
        if self._stage_started is not None:
            self._write(f"failed after {time.monotonic() - self._stage_started:.1f} s\n")
            self._stage_started = None

    def draining(self, left: Mapping[str, int], *, force: bool = False) -> None:
        """Records not processed yet, per stage (``workers``, ``sink``)."""
        now = time.monotonic()
        if not force and now - self._last_drain < _DRAIN_EVERY_S:
            return
        self._last_drain = now
        parts = ", ".join(f"{stage} {n:,} records left" for stage, n in left.items())
        total = sum(left.values())
        self.line(f"  draining: {parts}" + ("" if total else " (caught up)"))
