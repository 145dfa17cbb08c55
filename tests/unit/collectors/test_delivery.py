from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from collectors.delivery import SpoolingProducer
from collectors.exceptions import ProduceFailed, SpoolFull
from collectors.retention import Retention
from tests.fakes import InMemoryProducer

Message = tuple[str, bytes, bytes]


class SlowProducer(InMemoryProducer):
    """A broker that answers, but only after ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    async def send_many(self, messages: Sequence[Message]) -> None:
        await asyncio.sleep(self.delay_s)
        await super().send_many(messages)


def _m(i: int) -> Message:
    return ("siyu.events.raw", b"k", f"v{i}".encode())


def _producer(kafka: InMemoryProducer, path: Path, **kw: int) -> SpoolingProducer:
    return SpoolingProducer(
        kafka,
        path,
        timeout_s=0.2,
        retry_s=0.05,
        max_bytes=kw.get("max_bytes", 1 << 20),
        segment_bytes=4096,
    )


async def _until(predicate: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def test_broker_away_spools_then_replays_in_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        kafka = InMemoryProducer()
        p = _producer(kafka, tmp_path)
        await p.start()
        await p.send_many([_m(0)])
        kafka.fail = True
        for i in range(1, 40):
            await p.send_many([_m(i)])  # acknowledged: spooled
        assert p.spooling
        assert p.state()["spool_bytes"] > 0
        kafka.fail = False
        await _until(lambda: not p.spooling)
        await p.send_many([_m(40)])
        await p.stop()
        assert kafka.sent == [_m(i) for i in range(41)]

    asyncio.run(scenario())


def test_slow_broker_spools_after_the_timeout(tmp_path: Path) -> None:
    async def scenario() -> None:
        kafka = SlowProducer(delay_s=1.0)
        p = _producer(kafka, tmp_path)
        await p.start()
        started = asyncio.get_running_loop().time()
        await p.send_many([_m(1)])
        assert asyncio.get_running_loop().time() - started < 0.6
        assert p.spooling
        kafka.delay_s = 0
        await _until(lambda: not p.spooling)
        await p.stop()
        assert _m(1) in kafka.sent

    asyncio.run(scenario())


def test_full_spool_raises_spool_full(tmp_path: Path) -> None:
    async def scenario() -> None:
        kafka = InMemoryProducer(fail=True)
        p = _producer(kafka, tmp_path, max_bytes=1 << 16)
        await p.start()
        big = [("siyu.events.raw", b"k", b"x" * 20_000)]
        for _ in range(3):
            await p.send_many(big)
        with pytest.raises(SpoolFull):
            await p.send_many(big)
        await p.stop()

    asyncio.run(scenario())


def test_spool_left_at_stop_is_replayed_by_the_next_process(tmp_path: Path) -> None:
    async def first() -> None:
        p = _producer(InMemoryProducer(fail=True), tmp_path)
        await p.start()
        for i in range(5):
            await p.send_many([_m(i)])
        await p.stop()

    async def second() -> list[Message]:
        kafka = InMemoryProducer()
        p = _producer(kafka, tmp_path)
        await p.start()
        await _until(lambda: not p.spooling)
        await p.stop()
        return kafka.sent

    asyncio.run(first())
    assert asyncio.run(second()) == [_m(i) for i in range(5)]


def test_kafka_down_at_start_still_accepts(tmp_path: Path) -> None:
    class DownAtStart(InMemoryProducer):
        async def start(self) -> None:
            if self.fail:
                raise ProduceFailed("no broker")

    async def scenario() -> None:
        kafka = DownAtStart(fail=True)
        p = _producer(kafka, tmp_path)
        await p.start()
        await p.send_many([_m(1)])
        kafka.fail = False
        await _until(lambda: not p.spooling)
        await p.stop()
        assert kafka.sent == [_m(1)]

    asyncio.run(scenario())


def test_retention_hands_back_what_a_restarted_broker_lost() -> None:
    r = Retention(max_bytes=1 << 20)
    msgs = [_m(i) for i in range(10)]
    for i in range(5):
        assert r.note(msgs[i], ("t", i % 2, 100 + i)) == []
    assert r.note(msgs[5], ("u", 0, 0)) == []  # a new partition starts low: not a loss
    lost = r.note(msgs[6], ("t", 0, 0))  # offsets went back: a new, empty log
    assert lost == msgs[:6]
    assert r.losses == 1
    assert r.note(msgs[7], ("t", 0, 1)) == []
    assert r.note(msgs[8], ("t", 1, 0)) == []  # same broker life: partition 1 starts afresh


def test_retention_is_bounded() -> None:
    r = Retention(max_bytes=100)
    for i in range(100):
        r.note(("t", b"k", b"x" * 10), ("t", 0, i))
    assert r.size_bytes <= 100
