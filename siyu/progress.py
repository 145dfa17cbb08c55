"""What ``siyu run`` tells the user while it starts and stops the stack.

``starting broker … ready in 1.2 s`` per start stage, and while stopping, the records each
stage still has to process. A ``Progress`` without a stream says nothing (tests, library use).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import TextIO

__all__ = ["Progress"]

# Drain progress is printed at most this often, and whenever the stage set changes.
_DRAIN_EVERY_S = 1.0


class Progress:
    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self._last_drain = 0.0

    def _write(self, text: str) -> None:
        if self._out is not None:
            self._out.write(text)
            self._out.flush()

    def line(self, text: str) -> None:
        self._write(text + "\n")

    @contextlib.contextmanager
    def stage(self, what: str, verb: str = "starting") -> Iterator[None]:
        """``starting <what> … ready in 1.2 s``, or ``failed after 3.0 s``."""
        self._write(f"{verb} {what} … ")
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self._write(f"failed after {time.monotonic() - started:.1f} s\n")
            raise
        self._write(f"ready in {time.monotonic() - started:.1f} s\n")

    def draining(self, left: Mapping[str, int], *, force: bool = False) -> None:
        """Records not processed yet, per stage (``workers``, ``sink``)."""
        now = time.monotonic()
        if not force and now - self._last_drain < _DRAIN_EVERY_S:
            return
        self._last_drain = now
        parts = ", ".join(f"{stage} {n:,} records left" for stage, n in left.items())
        total = sum(left.values())
        self.line(f"  draining: {parts}" + ("" if total else " (caught up)"))
