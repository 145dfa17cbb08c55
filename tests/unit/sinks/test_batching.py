from __future__ import annotations

from sinks.batching import Batch


def test_flushes_by_size() -> None:
    b = Batch(max_rows=3, linger_s=10)
    for i in range(2):
        b.add("t", (i,), now=0.0)
    assert not b.due(now=0.1)
    b.add("t", (2,), now=0.1)
    assert b.due(now=0.1)


def test_flushes_by_age_even_with_only_offsets() -> None:
    b = Batch(max_rows=100, linger_s=0.5)
    b.consumed("topic", 0, 41, now=1.0)
    assert not b.due(now=1.4)
    assert b.due(now=1.5)
    assert b.offsets == {("topic", 0): 42}


def test_clear_forgets_rows_and_offsets() -> None:
    b = Batch(max_rows=10, linger_s=1)
    b.add("a", (1,), now=0)
    b.consumed("topic", 1, 5, now=0)
    b.clear()
    assert (b.rows, b.offsets, b.size, b.started) == ({}, {}, 0, None)
    assert not b.due(now=100)
