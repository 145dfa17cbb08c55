"""Batches are written and committed one after the other, even when flush() is called from
the main loop and the rebalance listener at the same time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sinks.route import TableSpec
from sinks.service import SinkService
from siyu.settings import Settings

TABLE = TableSpec("siyu.t", ("k",))


class _GatedWriter:
    """Records what reaches ClickHouse; each insert waits until the test opens the gate."""

    def __init__(self, log: list[tuple[str, object]]) -> None:
        self.log = log
        self.started = threading.Event()
        self.gate = threading.Event()

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.log.append(("write", tuple(r[0] for r in rows)))
        self.started.set()
        self.gate.wait(10)


class _Sink(SinkService):
    def __init__(self, log: list[tuple[str, object]], writer: _GatedWriter) -> None:
        super().__init__(Settings(data_dir=Path("/nonexistent")), writer, [])  # type: ignore[arg-type]
        self.log = log
        self._specs[TABLE.name] = TABLE

    async def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        self.log.append(("commit", offsets[("topic", 0)]))

    def pend(self, offset: int) -> None:
        self.batch.add(TABLE.name, (f"row{offset}",), 0.0)
        self.batch.consumed("topic", 0, offset, 0.0)


def test_concurrent_flushes_write_and_commit_batches_in_order() -> None:
    log: list[tuple[str, object]] = []
    writer = _GatedWriter(log)
    sink = _Sink(log, writer)

    async def scenario() -> None:
        sink.pend(0)
        first = asyncio.create_task(sink.flush())
        await first
        await asyncio.to_thread(writer.started.wait, 10)  # batch 0 is being written
        sink.pend(1)
        # The main loop and the rebalance listener flush at the same moment.
        loop_flush = asyncio.create_task(sink.flush())
        listener_flush = asyncio.create_task(sink.flush(final=True))
        await asyncio.sleep(0.05)
        sink.pend(2)
        writer.gate.set()
        await asyncio.gather(loop_flush, listener_flush)
        await sink.flush(final=True)

    asyncio.run(scenario())
    # Row 2 arrived while batch 0 was still being written: it joins row 1's batch.
    assert log == [
        ("write", ("row0",)),
        ("commit", 1),
        ("write", ("row1", "row2")),
        ("commit", 3),
    ]
