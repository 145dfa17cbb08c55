"""Kafka when it answers in time, the disk spool when it does not; replay in order.

:class:`SpoolingProducer` is the :class:`EventProducer` the collector serves with. A
request's messages go to Kafka directly while the spool is empty. If Kafka fails or does
not acknowledge within ``timeout_s``, they go to the spool instead, and from then on every
request is spooled (so nothing overtakes what waits there) until a background task has
replayed the spool into Kafka, oldest first. The request is answered only once its
messages are produced or fsynced in the spool; a full spool raises :class:`SpoolFull`
(503 + Retry-After).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from collectors import metrics
from collectors.exceptions import ProduceFailed, SpoolFull
from collectors.producer import EventProducer, Message
from collectors.spool import Spool

__all__ = ["SpoolingProducer", "acquire_slot"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Messages per replay round: one Kafka round trip, then one cursor fsync.
_REPLAY_BATCH = 500
# Longest pause between attempts to reach Kafka again (it doubles from retry_s).
_MAX_RETRY_S = 5.0


def acquire_slot(spool_dir: Path) -> tuple[Path, int]:
    """A spool directory of this process: ``slot-N``, held by an exclusive ``flock``.

    Every collector process (server workers) gets its own slot; a restarted process takes
    a free slot again and replays what a predecessor left in it.
    """
    spool_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1024):
        slot = spool_dir / f"slot-{n}"
        slot.mkdir(exist_ok=True)
        fd = os.open(slot / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return slot, fd
    raise ProduceFailed("no free spool slot (1024 collector processes?)")


class SpoolingProducer:
    def __init__(
        self,
        kafka: Any,
        spool_dir: Path,
        *,
        timeout_s: float,
        max_bytes: int,
        segment_bytes: int,
        retry_s: float = 1.0,
    ) -> None:
        self.kafka: EventProducer = kafka
        self.spool_dir = spool_dir
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self._spool_args = {"max_bytes": max_bytes, "segment_bytes": segment_bytes}
        self.spool: Spool | None = None
        self._lock_fd: int | None = None
        self._spool_lock = threading.Lock()
        self.spooling = False
        self.kafka_up = False
        self._pending: list[tuple[Sequence[Message], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._replayer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        slot, self._lock_fd = acquire_slot(self.spool_dir)
        self.spool = await asyncio.to_thread(Spool, slot, **self._spool_args)
        self.spooling = not self.spool.empty()
        if self.spooling:
            logger.info("spool %s holds %d bytes to replay", slot, self.spool.size_bytes)
        metrics.SPOOL_BYTES.set_function(lambda: self.spool.size_bytes if self.spool else 0)
        metrics.SPOOL_AGE.set_function(self._oldest_age)
        open_journal = getattr(self.kafka, "open_journal", None)
        if open_journal is not None:  # the outbox on disk, in this process's slot
            await open_journal(slot / "outbox")
        await self._start_kafka()
        self._replayer = asyncio.create_task(self._replay_loop(), name="spool-replay")

    async def _start_kafka(self) -> bool:
        try:
            await asyncio.wait_for(self.kafka.start(), self.timeout_s * 2)
        except (ProduceFailed, TimeoutError) as exc:
            if not self.spooling:
                logger.warning("Kafka unavailable at start, spooling: %s", exc)
            self.spooling = True
            return False
        self.kafka_up = True
        return True

    async def stop(self) -> None:
        """Finish spool writes, try one last replay, flush Kafka, release the slot."""
        self._stopping = True
        self._wake.set()
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
        if self._writer is not None:
            await asyncio.shield(self._writer)
        if self.spooling and self.kafka_up:
            with contextlib.suppress(TimeoutError, ProduceFailed):
                await asyncio.wait_for(self._replay_all(), self.timeout_s * 2)
        if self.kafka_up:
            await self.kafka.stop()
        if self.spool is not None:
            if not self.spool.empty():
                logger.warning(
                    "stopping with %d spooled bytes; replayed at next start", self.spool.size_bytes
                )
            self.spool.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _oldest_age(self) -> float:
        if self.spool is None:
            return 0.0
        with self._spool_lock:
            return self.spool.oldest_age_s(time.time_ns() // 1_000_000)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            with self._spool_lock:
                return fn(*args)

        return await asyncio.to_thread(locked)

    # -- send ----------------------------------------------------------------------------
    async def send_many(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        if not self.spooling and self.kafka_up:
            metrics.PRODUCER_QUEUE.inc(len(messages))
            try:
                # A little over the producer's own timeout, so it fails cleanly first.
                await asyncio.wait_for(self.kafka.send_many(messages), self.timeout_s * 1.2)
            except (ProduceFailed, TimeoutError) as exc:
                if not self.spooling:
                    logger.warning("Kafka failed or slow (%r): spooling until it is back", exc)
                self.spooling = True
                self._wake.set()
            else:
                return
            finally:
                metrics.PRODUCER_QUEUE.dec(len(messages))
        await self._spool(messages)

    async def _spool(self, messages: Sequence[Message]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((messages, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        await future

    async def _write_pending(self) -> None:
        """Group commit: every request that queued while the last fsync ran shares the next one."""
        assert self.spool is not None  # noqa: S101 - set by start()
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                verdicts = await self._in_thread(self.spool.append, [m for m, _ in batch])
            except OSError as exc:
                logger.exception("spool write failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(ProduceFailed(f"spool write failed: {exc}"))
                continue
            for (group, future), ok in zip(batch, verdicts, strict=True):
                metrics.SPOOLED.labels(outcome="written" if ok else "full").inc(len(group))
                if future.done():
                    continue
                if ok:
                    future.set_result(None)
                else:
                    future.set_exception(
                        SpoolFull("spool full while Kafka is away", retry_after_s=30)
                    )
        self._wake.set()

    # -- replay --------------------------------------------------------------------------
    async def _replay_loop(self) -> None:
        delay = self.retry_s
        while not self._stopping:
            if not self.spooling:
                await self._wake.wait()
                self._wake.clear()
                continue
            if not self.kafka_up and not await self._start_kafka():
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_S)
                continue
            try:
                drained = await self._replay_round()
            except (ProduceFailed, TimeoutError) as exc:
                logger.info("replay waits for Kafka: %r", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_S)
                continue
            delay = self.retry_s
            if drained and not self._pending and (self._writer is None or self._writer.done()):
                # Nothing spooled and nothing being spooled: direct sends keep the order.
                self.spooling = False
                logger.info("spool replayed, producing to Kafka directly again")
            elif drained:
                await asyncio.sleep(0.005)

    async def _replay_round(self) -> bool:
        """Replay one batch; True when the spool had nothing left."""
        assert self.spool is not None  # noqa: S101 - set by start()
        records = await self._in_thread(self.spool.read, _REPLAY_BATCH)
        if not records:
            return True
        await asyncio.wait_for(
            self.kafka.send_many([r.message for r in records]), self.timeout_s * 2
        )
        await self._in_thread(self.spool.commit, records[-1].end)
        return False

    async def _replay_all(self) -> None:
        while not await self._replay_round():
            pass

    def state(self) -> dict[str, Any]:
        return {
            "kafka": "up" if self.kafka_up and not self.spooling else "spooling",
            "spool_bytes": self.spool.size_bytes if self.spool else 0,
        }
