"""The outbox on disk: every ``events.raw`` message written and fsynced before it is sent.

The in-memory :class:`collectors.outbox.Outbox` survives the broker's death; this journal
makes it survive the collector's own (``kill -9``, a second Ctrl-C of ``siyu run`` that
stops everything at once). It is a :class:`collectors.spool.Spool` of its own
(``<slot>/outbox/``: same framed, CRC-checked, fsynced segments and cursor):

- :meth:`Journal.append` runs before a message is sent to the broker, so an event the
  collector answers for is on disk first (group commit: one fsync per send call).
- :meth:`Journal.trim` moves the cursor past every record written before the oldest
  message ClickHouse has not confirmed yet (less a margin covering sends still in flight),
  and deletes finished segments.
- :meth:`Journal.unconfirmed` reads what is left at the next start: those messages are sent
  again and join the outbox with their original acceptance time (copies dedupe by
  ``event_id`` downstream).

Bounded by bytes (the outbox's bound): past it a message is sent unjournaled and counted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from collectors.spool import Spool, SpooledRecord

__all__ = ["Journal"]

logger = logging.getLogger(__name__)

Message = tuple[str, bytes, bytes]

# Records read per trim round (the cursor moves on from there next round).
_TRIM_BATCH = 20_000


class Journal:
    def __init__(self, directory: Path, *, max_bytes: int, margin_ms: int) -> None:
        self.spool = Spool(directory, max_bytes=max_bytes, segment_bytes=16 << 20)
        self.margin_ms = margin_ms
        self._lock = threading.Lock()
        self.refused = 0
        """Messages not journaled because the journal was full."""

    @property
    def size_bytes(self) -> int:
        return self.spool.size_bytes

    def append(self, messages: Sequence[Message], now_ms: int) -> bool:
        """Write and fsync ``messages`` (blocking: run it in a thread). False when full."""
        with self._lock:
            ok = self.spool.append([messages], now_ms=now_ms)[0]
        if not ok:
            self.refused += len(messages)
        return ok

    def unconfirmed(self) -> list[SpooledRecord]:
        """Every record not yet trimmed, oldest first (read at start)."""
        with self._lock:
            return self.spool.read(1 << 62)

    def trim(self, oldest_pending_ms: int | None, now_ms: int) -> int:
        """Forget records written before ``oldest_pending_ms`` (or ``now_ms`` when nothing is
        pending) less the margin. Returns the bytes left."""
        before = (oldest_pending_ms if oldest_pending_ms is not None else now_ms) - self.margin_ms
        with self._lock:
            end = None
            for record in self.spool.read(_TRIM_BATCH):
                if record.spooled_at_ms >= before:
                    break
                end = record.end
            if end is not None:
                self.spool.commit(end)
            return self.spool.size_bytes

    def close(self) -> None:
        with self._lock:
            self.spool.close()
