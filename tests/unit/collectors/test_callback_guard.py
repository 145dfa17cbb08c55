from __future__ import annotations

from collectors.callback_guard import MAX_AGE_S, ReplayGuard, is_stale


def test_a_key_is_fresh_once_within_the_window() -> None:
    guard = ReplayGuard(window_s=600)
    assert guard.first_time("a", 1000)
    assert not guard.first_time("a", 1500)
    assert guard.first_time("a", 1000 + 601)  # forgotten: its timestamp is refused by then


def test_capacity_bounds_memory_oldest_first() -> None:
    guard = ReplayGuard(window_s=600, capacity=2)
    for key in ("a", "b", "c"):
        assert guard.first_time(key, 1000)
    assert guard.first_time("a", 1000)  # pushed out by c
    assert not guard.first_time("c", 1000)


def test_stale_timestamps() -> None:
    assert not is_stale("1000", 1000 + MAX_AGE_S)
    assert is_stale("1000", 1000 + MAX_AGE_S + 1)
    assert is_stale(str(2000 + MAX_AGE_S + 1), 2000)  # far in the future too
    assert is_stale("12ab", 1000)
