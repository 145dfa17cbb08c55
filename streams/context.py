"""What an agent module receives: the Faust app, settings, topics and state tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TopicT

from schemas.records import EventBatch, decode_batch
from siyu.settings import Settings
from streams.shared_decode import SharedDecode
from streams.state import StateTable

__all__ = ["StreamContext"]


@dataclass
class StreamContext:
    app: faust.App
    settings: Settings
    tables: dict[str, StateTable] = field(default_factory=dict)
    mergeables: dict[str, tuple[StateTable, Callable[[Any, Any], Any]]] = field(
        default_factory=dict
    )
    stitched: SharedDecode[EventBatch] = field(default_factory=lambda: SharedDecode(decode_batch))
    """``events.stitched`` records, decoded once for every agent reading them."""
    _topics: dict[str, TopicT] = field(default_factory=dict)

    def topic(self, name: str) -> TopicT:
        """A siyu topic (name without prefix) carrying raw bytes keys and values."""
        if name not in self._topics:
            self._topics[name] = self.app.topic(
                self.settings.kafka.topic(name),
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
            )
        return self._topics[name]

    def table(self, name: str, *, global_: bool = False, help: str = "") -> StateTable:
        """A JSON state table with replay protection, recoverable from ClickHouse.

        ``global_`` makes a GlobalTable (every worker holds every key), tuned with
        ``recovery_buffer_size=1`` so another worker's writes show within a second.
        """
        if name in self.tables:
            return self.tables[name]
        kwargs: dict[str, Any] = {
            "default": None,
            "key_type": bytes,
            "value_type": bytes,
            "partitions": self.settings.kafka.partitions,
            "help": help,
        }
        table: Any = (
            self.app.GlobalTable(name, recovery_buffer_size=1, **kwargs)
            if global_
            else self.app.Table(name, **kwargs)
        )
        self.tables[name] = StateTable(table)
        return self.tables[name]
