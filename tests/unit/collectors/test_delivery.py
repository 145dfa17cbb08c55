from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from collectors.delivery import SpoolingProducer
from collectors.exceptions import ProduceFailed, SpoolFull
from collectors.outbox import Outbox
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


def test_outbox_hands_back_everything_unconfirmed_when_the_broker_lost_its_log() -> None:
    box = Outbox(max_bytes=1 << 20, resend_after_ms=60_000)
    msgs = [_m(i) for i in range(10)]
    for i in range(5):
        assert box.acked(("t", i % 2, 100 + i), 1000, msgs[i]) == []
    assert box.acked(("u", 0, 0), 1000, msgs[5]) == []  # a new partition starts low: not a loss
    box.confirm([p.seq for p in box.oldest(2)])  # ClickHouse holds the first two
    lost = box.acked(("t", 0, 0), 2000, msgs[6])  # offsets went back: a new, empty log
    assert lost == msgs[2:6]
    assert box.losses == 1
    assert box.acked(("t", 0, 1), 2000, msgs[7]) == []
    assert box.acked(("t", 1, 0), 2000, msgs[8]) == []  # same broker life: partition 1 afresh
    # A copy sent again is acknowledged without becoming a second entry.
    assert box.acked(("t", 0, 2), 2000, None) == []
    assert len(box) == 7


def test_outbox_sends_again_what_a_newer_confirmed_message_overtook() -> None:
    box = Outbox(max_bytes=1 << 20, resend_after_ms=100, overtaken_ms=20, give_up_wait_ms=1000)
    for i in range(4):
        box.acked(("t", 0, i), 1000 + i * 50, _m(i))
    assert box.due(1300) == []  # nothing confirmed yet: the pipeline is behind, not lossy
    stored = [p.seq for p in box.oldest(10) if p.message == _m(3)]
    assert box.confirm(stored) == 1
    assert box.confirm(stored) == 0
    assert box.due(1300) == [_m(0), _m(1), _m(2)]  # sent before a stored one, still missing
    assert box.due(1350) == []  # just sent again
    assert box.due(2300) == [_m(0), _m(1), _m(2)]  # waited too long: sent again anyway
    assert box.resent == 6
    assert len(box) == 3
    assert box.size_bytes == sum(len(m[1]) + len(m[2]) for m in (_m(0), _m(1), _m(2)))


def test_outbox_sends_again_the_last_message_before_traffic_stopped() -> None:
    box = Outbox(max_bytes=1 << 20, resend_after_ms=100, overtaken_ms=20, give_up_wait_ms=10_000)
    for i in range(3):  # sent together (copies after a lost log, or the last burst)
        box.acked(("t", 0, i), 1000, _m(i))
    box.confirm([p.seq for p in box.oldest(10) if p.message != _m(1)])
    assert box.due(1100) == []  # nothing sent well after it: may still be on its way
    assert box.due(1119) == []
    assert box.due(1120) == [_m(1)]  # the ones sent with it are stored, it is not
    assert box.due(1200) == []  # its clock restarted
    assert box.due(1240) == []  # nothing confirmed since it was sent again
    box.acked(("t", 0, 3), 1250, _m(3))
    box.confirm([p.seq for p in box.oldest(10) if p.message == _m(3)])
    assert box.due(1260) == [_m(1)]  # overtaken by one sent later
    assert box.resent == 2


def test_outbox_is_bounded_and_counts_what_it_dropped() -> None:
    box = Outbox(max_bytes=100, resend_after_ms=1)
    for i in range(100):
        box.acked(("t", 0, i), 0, ("t", b"k", b"x" * 10))
    assert box.size_bytes <= 100
    assert box.dropped == 100 - len(box)
