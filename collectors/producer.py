"""The collector's way to Kafka: a Protocol, and the aiokafka adapter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from collectors.exceptions import ProduceFailed
from collectors.journal import Journal
from collectors.outbox import Outbox, Pending

__all__ = ["EventProducer", "KafkaEventProducer", "Message"]

logger = logging.getLogger(__name__)

Message = tuple[str, bytes, bytes]
"""(topic, key, value)"""

# Outbox messages looked up in ClickHouse per confirmation round, oldest first.
_CONFIRM_BATCH = 4000


class EventProducer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_many(self, messages: Sequence[Message]) -> None:
        """Return once every message is durably accepted; raise ProduceFailed otherwise."""
        ...


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class KafkaEventProducer:
    """aiokafka with ``acks=all``. ``start`` raises ProduceFailed when no broker answers.

    With an ``outbox`` (the embedded broker), every acknowledged message of
    ``outbox_topic`` is kept until ``confirm`` finds its events stored, and sent again
    when the broker lost it or it stays unconfirmed (see :mod:`collectors.outbox`).
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        timeout_s: float,
        linger_ms: int,
        outbox: Outbox | None = None,
        outbox_topic: str = "",
        confirm: Callable[[list[Pending]], Awaitable[list[int]]] | None = None,
        confirm_interval_s: float = 5.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.linger_ms = linger_ms
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self.outbox = outbox
        self.outbox_topic = outbox_topic
        self._confirm = confirm
        self.confirm_interval_s = confirm_interval_s
        self._confirmer: asyncio.Task[None] | None = None
        self._lost: list[Message] = []
        self.journal: Journal | None = None
        self._unsent: list[tuple[Message, int]] = []
        """Journaled by an earlier process and not confirmed: sent at start."""

    async def open_journal(self, directory: Path) -> None:
        """Keep the outbox on disk in ``directory`` (the collector's spool slot)."""
        if self.outbox is None or self.journal is not None:
            return
        margin_ms = int(self.timeout_s * 4000) + 10_000
        journal = await asyncio.to_thread(
            Journal, directory, max_bytes=self.outbox.max_bytes, margin_ms=margin_ms
        )
        records = await asyncio.to_thread(journal.unconfirmed)
        if records:
            logger.info("outbox journal: %d messages of an earlier run to send again", len(records))
        self._unsent = [(r.message, r.spooled_at_ms) for r in records]
        self.journal = journal

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        # Built here: aiokafka binds to the running loop. A message not delivered within
        # request_timeout_ms fails in aiokafka itself instead of arriving late, so what the
        # caller spools after a timeout is rarely sent twice.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=self.linger_ms,
            max_batch_size=1 << 20,
            max_request_size=8 << 20,
            request_timeout_ms=int(self.timeout_s * 1000),
            metadata_max_age_ms=5000,
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            await producer.stop()
            raise ProduceFailed(f"event broker unavailable: {exc}") from exc
        self._producer = producer
        if self.outbox is not None and self._confirm is not None and self._confirmer is None:
            self._confirmer = asyncio.create_task(self._confirm_loop(), name="outbox-confirm")

    async def stop(self) -> None:
        if self._confirmer is not None:
            self._confirmer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._confirmer
            self._confirmer = None
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await asyncio.wait_for(producer.stop(), self.timeout_s * 2)
            except (KafkaError, TimeoutError) as exc:
                logger.warning("producer did not flush on stop: %s", exc)
        if self.journal is not None:
            self.journal.close()

    async def send_many(self, messages: Sequence[Message]) -> None:
        if self._unsent:
            await self._send_unsent()
        if self._lost:
            await self._resend_lost()
        if self.journal is not None:
            await self._journal(messages)
        await self._produce(messages)
        if self._lost:
            await self._resend_lost()

    async def _journal(self, messages: Sequence[Message]) -> None:
        assert self.journal is not None  # noqa: S101 - checked by the caller
        kept = [m for m in messages if m[0] == self.outbox_topic]
        if kept and not await asyncio.to_thread(
            self.journal.append, kept, time.time_ns() // 1_000_000
        ):
            logger.warning("outbox journal full: %d messages kept in memory only", len(kept))

    async def _send_unsent(self) -> None:
        await self._drop_stored_unsent()
        while self._unsent:
            chunk, self._unsent = self._unsent[:500], self._unsent[500:]
            try:
                await self._produce([m for m, _ in chunk], accepted=[at for _, at in chunk])
            except ProduceFailed:
                self._unsent = chunk + self._unsent
                raise

    async def _drop_stored_unsent(self) -> None:
        """Forget the journal's messages ClickHouse already holds (a run that stopped before
        its trim): sent again, their events would be counted again by stream state, whose
        replay protection does not survive the embedded broker. When ClickHouse cannot
        answer, everything is sent (its tables deduplicate by event id)."""
        if self._confirm is None or not self._unsent:
            return
        pending = [Pending(i, m, 0, at) for i, (m, at) in enumerate(self._unsent)]
        stored: set[int] = set()
        try:
            for i in range(0, len(pending), _CONFIRM_BATCH):
                stored.update(await self._confirm(pending[i : i + _CONFIRM_BATCH]))
        except Exception as exc:  # noqa: BLE001 - ClickHouse away: send them all
            logger.info("cannot look the journal's messages up in ClickHouse: %r", exc)
            return
        if stored:
            logger.info("outbox journal: %d messages already stored, not sent again", len(stored))
        self._unsent = [u for i, u in enumerate(self._unsent) if i not in stored]

    async def _produce(
        self,
        messages: Sequence[Message],
        *,
        again: bool = False,
        accepted: Sequence[int] | None = None,
    ) -> None:
        if self._producer is None:
            raise ProduceFailed("producer not started")
        try:
            futures = []
            for i, message in enumerate(messages):
                topic, key, value = message
                future = await self._producer.send(topic, value=value, key=key)
                if self.outbox is not None and topic == self.outbox_topic:
                    first = accepted[i] if accepted is not None else None
                    future.add_done_callback(
                        partial(self._acked, None if again else message, first)
                    )
                futures.append(future)
            gathered = asyncio.gather(*futures)
            # After a timeout aiokafka fails these later by itself (request_timeout_ms),
            # when nobody waits any more: retrieve that error so it is not reported as lost.
            gathered.add_done_callback(_retrieve)
            await asyncio.wait_for(asyncio.shield(gathered), self.timeout_s)
        except (KafkaError, TimeoutError) as exc:
            logger.warning("produce failed: %r", exc)
            raise ProduceFailed(f"event broker unavailable: {exc!r}") from exc

    def _acked(
        self, message: Message | None, accepted_ms: int | None, future: asyncio.Future[Any]
    ) -> None:
        """Runs as each message is acknowledged, in the broker's offset order per partition."""
        if future.cancelled() or future.exception() is not None or self.outbox is None:
            return
        meta = future.result()
        lost = self.outbox.acked(
            (meta.topic, meta.partition, meta.offset),
            time.time_ns() // 1_000_000,
            message,
            accepted_ms,
        )
        if lost:
            logger.warning(
                "the broker lost its log (offsets went back): sending %d unconfirmed messages "
                "again",
                len(lost),
            )
            self._lost = lost + self._lost

    async def _resend_lost(self) -> None:
        while self._lost:
            chunk, self._lost = self._lost[:500], self._lost[500:]
            try:
                await self._produce(chunk, again=True)
            except ProduceFailed:
                self._lost = chunk + self._lost
                raise

    async def _confirm_loop(self) -> None:
        """Forget what ClickHouse holds; send again what stayed unconfirmed too long."""
        assert self.outbox is not None  # noqa: S101 - started only with both
        assert self._confirm is not None  # noqa: S101
        while True:
            await asyncio.sleep(self.confirm_interval_s)
            try:
                pending = self.outbox.oldest(_CONFIRM_BATCH)
                if pending:
                    self.outbox.confirm(await self._confirm(pending))
            except Exception as exc:  # noqa: BLE001 - ClickHouse away: confirm next round
                logger.info("cannot confirm stored events yet: %r", exc)
            now_ms = time.time_ns() // 1_000_000
            if self.journal is not None and not self._unsent:
                oldest = self.outbox.oldest_accepted_ms()
                try:
                    await asyncio.to_thread(self.journal.trim, oldest, now_ms)
                except OSError:
                    logger.exception("outbox journal trim failed")
            late = self.outbox.due(now_ms)
            if late:
                logger.warning("sending %d unconfirmed messages again", len(late))
                self._lost.extend(late)
            with contextlib.suppress(ProduceFailed):
                if self._unsent:
                    await self._send_unsent()
                if self._lost:
                    await self._resend_lost()
