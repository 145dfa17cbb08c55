from __future__ import annotations

from streams.tag_schedule import DueSchedule


def test_due_users_pop_in_time_order_once() -> None:
    s = DueSchedule()
    s.set("a", 30)
    s.set("b", 10)
    s.set("c", 20)
    assert s.pop_due(20) == ["b", "c"]
    assert s.pop_due(20) == []
    assert s.pop_due(100) == ["a"]
    assert len(s) == 0


def test_rescheduling_replaces_the_earlier_time() -> None:
    s = DueSchedule()
    s.set("a", 10)
    s.set("a", 10)
    s.set("a", 50)
    assert s.pop_due(20) == []
    assert s.pop_due(50) == ["a"]
    s.set("b", 5)
    s.set("b", 0)
    assert s.pop_due(100) == []


def test_limit_and_compaction() -> None:
    s = DueSchedule()
    for i in range(3000):
        s.set("u", i + 1)  # stale entries pile up, then get compacted
    assert len(s._heap) < 2000
    for i in range(5):
        s.set(f"x{i}", 1)
    assert len(s.pop_due(10, limit=3)) == 3
    assert len(s.pop_due(10_000)) == 3
    s.set("z", 1)
    s.clear()
    assert s.pop_due(10) == []
