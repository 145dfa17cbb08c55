"""A sink route: which Kafka records become which rows of which table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Record", "Route", "Row", "TableSpec"]

Row = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Record:
    """A Kafka record as the sink sees it (no driver types)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """Records of ``topic`` (or of every topic matching ``pattern``) → rows.

    ``to_rows`` must be pure and deterministic: a replayed record yields the same rows,
    which the table's ReplacingMergeTree key deduplicates.
    """

    to_rows: Callable[[Record], Iterable[tuple[TableSpec, Row]]]
    topic: str | None = None
    pattern: str | None = None
