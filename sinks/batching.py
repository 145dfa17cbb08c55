"""Pure batching: collect rows per table, decide when to flush by size or age."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Batch"]


@dataclass
class Batch:
    """Rows waiting to be written, per table, plus the Kafka offsets they came from.

    Offsets are only committed after every table's rows are written, so a batch is
    flushed and cleared as a whole.
    """

    max_rows: int
    linger_s: float
    rows: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    size: int = 0
    started: float | None = None

    def add(self, table: str, row: tuple[object, ...], now: float) -> None:
        self.rows.setdefault(table, []).append(row)
        self.size += 1
        if self.started is None:
            self.started = now

    def consumed(self, topic: str, partition: int, offset: int, now: float) -> None:
        """Record that everything up to ``offset`` of (topic, partition) is in this batch."""
        self.offsets[(topic, partition)] = offset + 1
        if self.started is None:
            self.started = now

    def due(self, now: float) -> bool:
        if self.size >= self.max_rows:
            return True
        return self.started is not None and now - self.started >= self.linger_s

    def clear(self) -> None:
        self.rows = {}
        self.offsets = {}
        self.size = 0
        self.started = None
