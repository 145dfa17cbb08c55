"""Client retries are dropped; replays of the same record are not."""

from __future__ import annotations

import pytest

from streams.domain.event_window import RecentEventIds


def test_a_resent_event_in_a_later_record_is_a_retry() -> None:
    window = RecentEventIds(capacity=10)
    assert window.admit("e1", 5)
    assert not window.admit("e1", 9)


def test_the_same_record_replayed_is_admitted_again() -> None:
    window = RecentEventIds(capacity=10)
    assert window.admit("e1", 5)
    assert window.admit("e2", 6)
    assert window.admit("e1", 5)
    assert window.admit("e2", 6)


def test_a_duplicate_inside_one_record_is_dropped() -> None:
    window = RecentEventIds(capacity=10)
    assert window.admit("e1", 5)
    assert not window.admit("e1", 5)


def test_the_oldest_ids_are_forgotten_beyond_the_capacity() -> None:
    window = RecentEventIds(capacity=2)
    for offset, key in enumerate(["a", "b", "c"]):
        assert window.admit(key, offset)
    assert len(window) == 2
    assert window.admit("a", 10)  # forgotten: admitted again
    assert not window.admit("c", 11)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentEventIds(capacity=0)


def test_a_resent_request_is_admitted_and_a_client_retry_is_not() -> None:
    window = RecentEventIds(capacity=10)
    assert window.admit("e1", 5, ("k", 1000))
    assert window.admit("e1", 9, ("k", 1000))  # the collector sent the same request again
    assert not window.admit("e1", 12, ("k", 2000))  # a new request: a client retry
    assert not window.admit("e1", 13)  # no request known: a retry
