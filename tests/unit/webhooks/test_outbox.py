"""The on-disk outbox of pending webhook deliveries: durable, deduplicated, bounded."""

from __future__ import annotations

from pathlib import Path

import orjson

from webhooks.jobs import Job
from webhooks.outbox import Outbox

T = 1_800_000_000.0


def _job(sub: str, user: str, n: int) -> Job:
    eid = f"{sub}-{user}-{n}"
    return Job(sub, "p", user, "segment", "s", "enter", n, eid, orjson.dumps({"event_id": eid}))


def _open(path: Path, max_pending: int = 3) -> Outbox:
    return Outbox(path / "outbox.sqlite3", max_pending=max_pending, keep_done_s=60)


def test_unfinished_jobs_come_back_in_order_after_a_reopen(tmp_path: Path) -> None:
    box = _open(tmp_path)
    jobs = [_job("a", "u1", 1), _job("a", "u2", 2), _job("b", "u1", 3), _job("a", "u1", 4)]
    queued, overflow = box.add(jobs, T)
    assert (queued, overflow) == (jobs, [])
    box.attempted(jobs[0], 2, T - 5)
    box.finish(jobs[1], T)
    box.close()  # what a kill leaves: every committed write

    again = _open(tmp_path)
    assert again.subscriptions() == {"a", "b"}
    pending = again.pending("a")
    assert [p.job for p in pending] == [jobs[0], jobs[3]]
    assert [(p.attempts, p.first_try) for p in pending] == [(2, T - 5), (0, None)]
    assert [p.job for p in again.pending("b")] == [jobs[2]]


def test_a_change_read_again_is_not_queued_twice(tmp_path: Path) -> None:
    box = _open(tmp_path)
    job = _job("a", "u1", 1)
    box.add([job], T)
    assert box.add([job], T + 1) == ([], [])
    box.finish(job, T + 2)
    box.finish(job, T + 3)  # finished once
    assert box.add([job], T + 4) == ([], [])  # delivered: never again
    assert box.counts["a"] == 0
    assert box.purge(T + 10) == 0  # kept keep_done_s
    assert box.purge(T + 100) == 1
    assert box.add([job], T + 101) == ([job], [])  # forgotten after that


def test_the_backlog_is_bounded_per_subscription_and_overflow_is_returned(tmp_path: Path) -> None:
    box = _open(tmp_path, max_pending=2)
    a = [_job("a", "u", n) for n in range(4)]
    b = _job("b", "u", 9)
    queued, overflow = box.add([*a, b], T)
    assert queued == [a[0], a[1], b]
    assert overflow == [a[2], a[3]]
    # Read again: the overflow is not reported twice.
    assert box.add(a, T + 1) == ([], [])
    box.finish(a[0], T + 2)
    late = _job("a", "u", 5)
    assert box.add([late], T + 3) == ([late], [])
    assert [p.job for p in box.pending("a")] == [a[1], late]


def test_a_removed_subscription_forgets_its_jobs(tmp_path: Path) -> None:
    box = _open(tmp_path)
    box.add([_job("a", "u", 1), _job("a", "u", 2), _job("b", "u", 1)], T)
    assert box.drop_subscription("a") == 2
    assert box.pending("a") == []
    assert box.subscriptions() == {"b"}
    box.close()
    assert _open(tmp_path).subscriptions() == {"b"}
