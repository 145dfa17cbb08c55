"""Funnel progress: levels, entry days, breakdowns, re-entry, replays, lateness, merges."""

from __future__ import annotations

import pytest

from streams.domain.funnel_model import DAY_S
from streams.domain.funnels import (
    FunnelProgress,
    StepCompletion,
    add_entries,
    advance,
    merge,
    settle,
    window_funnel_level,
)
from tests.unit.streams.domain.funnel_factories import COMMERCE_SPEC, DAY, SCENES, T0, ev, funnels

SHOP = funnels(COMMERCE_SPEC).funnels[0]
TODAY = T0 // DAY_S


def steps(done: list[StepCompletion], dimension: str = "") -> list[int]:
    return [c.step for c in done if c.dimension == dimension]


@pytest.mark.parametrize(
    ("seconds", "window", "expected"),
    [
        pytest.param([], 10, 0, id="nothing"),
        pytest.param([(0, 0b0010)], 10, 0, id="no-entry"),
        pytest.param([(0, 1), (5, 2), (9, 4)], 10, 3, id="in-window"),
        pytest.param([(0, 1), (5, 2), (11, 4)], 10, 2, id="window-passed"),
        pytest.param([(0, 1), (10, 2)], 10, 2, id="window-inclusive"),
        pytest.param([(0, 1), (8, 1), (12, 2), (17, 4)], 10, 3, id="re-entry-restarts-window"),
        pytest.param([(0, 3)], 10, 2, id="one-event-two-steps"),
        pytest.param([(0, 1), (1, 2), (2, 4), (3, 8)], 10, 4, id="complete"),
        pytest.param([(0, 2), (1, 1)], 10, 1, id="order-matters"),
    ],
)
def test_window_funnel_level(seconds: list[tuple[int, int]], window: int, expected: int) -> None:
    assert window_funnel_level(seconds, window, 4) == expected


def test_single_step_funnel_counts_any_entry() -> None:
    assert window_funnel_level([(0, 1)], 5, 1) == 1
    assert window_funnel_level([(0, 2)], 5, 1) == 0


def test_advance_reports_each_step_once_per_entry_day() -> None:
    progress, done = advance(SHOP, None, ev("$MPViewScreen", T0))
    assert steps(done) == [1]
    assert steps(done, "platform") == [1]
    assert {(c.dimension, c.value) for c in done} == {
        ("", ""),
        ("platform", "miniprogram"),
        ("channel", "direct"),
    }
    progress, done = advance(
        SHOP, progress, [ev("view_product", T0 + 60), ev("add_to_cart", T0 + 90)]
    )
    assert steps(done) == [2, 3]
    assert all(c.day == TODAY for c in done)
    progress, done = advance(SHOP, progress, ev("$MPViewScreen", T0 + 100))
    assert done == []
    _, done = advance(SHOP, progress, ev("pay_order", T0 + 3600 + 1))
    assert done == [], "outside the one-hour window of both entries"


def test_replayed_events_change_nothing() -> None:
    events = [ev("$pageview", T0), ev("view_product", T0 + 1)]
    progress, done = advance(SHOP, None, events)
    assert steps(done) == [1, 2]
    again, done = advance(SHOP, progress, events)
    assert done == []
    assert again.entries == progress.entries


def test_breakdown_follows_the_entry_event() -> None:
    shop = funnels(COMMERCE_SPEC).with_scenes(SCENES).funnels[0]
    entry = ev("$pageview", T0, platform="h5", context={"scene": 1007})
    progress, _ = advance(shop, None, entry)
    progress, done = advance(shop, progress, ev("view_product", T0 + 5, platform="miniprogram"))
    assert {(c.dimension, c.value, c.step) for c in done} == {
        ("", "", 2),
        ("platform", "h5", 2),
        ("channel", "share", 2),  # the scene's class, not the later event's
    }


def test_a_new_day_is_a_new_entry() -> None:
    progress, _ = advance(SHOP, None, [ev("$pageview", T0), ev("view_product", T0 + 1)])
    _, done = advance(SHOP, progress, ev("$pageview", T0 + DAY))
    assert [(c.day, c.step) for c in done if not c.dimension] == [(TODAY + 1, 1)]


def test_chain_crossing_midnight_counts_for_the_entry_day() -> None:
    midnight = (TODAY + 1) * DAY_S
    progress, _ = advance(SHOP, None, ev("$pageview", midnight - 10))
    _, done = advance(SHOP, progress, ev("view_product", midnight + 10))
    assert [(c.day, c.step) for c in done if not c.dimension] == [(TODAY, 2)]


def test_out_of_order_events_within_lateness() -> None:
    progress, done = advance(SHOP, None, ev("view_product", T0 + 30))
    assert done == []
    _, done = advance(SHOP, progress, ev("$pageview", T0))
    assert steps(done) == [1, 2]


def test_late_entry_joins_steps_sharing_one_second() -> None:
    # Two steps in the same second are one point of the chain, as in windowFunnel.
    progress, _ = advance(SHOP, None, [ev("view_product", T0 + 30), ev("add_to_cart", T0 + 30)])
    _, done = advance(SHOP, progress, ev("$pageview", T0))
    assert steps(done) == [1, 2, 3]


def test_too_late_events_are_dropped_and_old_days_closed() -> None:
    progress, _ = advance(SHOP, None, [ev("$pageview", T0), ev("view_product", T0 + 1)])
    progress, _ = advance(SHOP, progress, ev("$pageview", T0 + 3 * DAY))
    assert all(t >= (TODAY + 1) * DAY_S for t, _, _ in progress.entries)
    assert all(day > TODAY for day, _, _ in progress.reached)
    progress, done = advance(SHOP, progress, ev("add_to_cart", T0 + 2))
    assert done == []
    assert progress.dropped == 1


def test_events_outside_every_step_are_not_kept() -> None:
    progress, done = advance(SHOP, None, ev("login", T0))
    assert progress == FunnelProgress()
    assert done == []


def test_entries_are_bounded() -> None:
    tiny = funnels(
        {
            "funnels": {
                "f": {"window": 60, "max_entries": 3, "steps": [{"name": "a", "events": "x"}]}
            }
        }
    ).funnels[0]
    progress, _ = advance(tiny, None, [ev("x", T0 + i) for i in range(10)])
    assert [t for t, _, _ in progress.entries] == [T0 + 7, T0 + 8, T0 + 9]


def test_json_round_trip() -> None:
    progress, _ = advance(SHOP, None, [ev("$pageview", T0), ev("view_product", T0 + 1)])
    assert FunnelProgress.from_json(progress.to_json()) == progress
    assert FunnelProgress.from_json(None) == FunnelProgress()


def test_merge_unites_users_and_settle_reports_union_only_steps() -> None:
    a, _ = advance(SHOP, None, [ev("$pageview", T0), ev("view_product", T0 + 1)])
    b, _ = advance(SHOP, None, [ev("add_to_cart", T0 + 2)])
    merged = merge(a, b)
    assert merged.newest == T0 + 2
    merged, done = settle(SHOP, merged)
    assert steps(done) == [3]
    assert merge(None, b) is b
    assert merge(a, None) is a
    assert merge(None, None) == FunnelProgress()


def test_merge_keeps_the_highest_reported_level() -> None:
    a, _ = advance(SHOP, None, [ev("$pageview", T0), ev("view_product", T0 + 1)])
    b, _ = advance(SHOP, None, [ev("$pageview", T0 + 5)])
    merged = merge(b, a)
    assert merged.reached[(TODAY, -1, "")] == 2
    _, done = settle(SHOP, merged)
    assert done == []


def test_settle_all_days_ignores_entries_past_the_window() -> None:
    progress, _ = advance(SHOP, None, [ev("$pageview", T0), ev("$pageview", T0 + 10 * 3600)])
    again, done = settle(SHOP, progress)
    assert done == []
    assert again.reached == progress.reached


def test_new_events_after_a_merge_recompute_the_union() -> None:
    a, _ = advance(SHOP, None, ev("$pageview", T0))
    b, _ = advance(SHOP, None, ev("view_product", T0 + 1))
    merged = merge(a, b)
    assert merged.chains == {}
    _, done = advance(SHOP, merged, ev("add_to_cart", T0 + 2))
    assert steps(done) == [2, 3]


def test_add_entries_drops_late_ones_and_bounds_the_rest() -> None:
    tiny = funnels(
        {
            "funnels": {
                "f": {"window": 60, "max_entries": 2, "steps": [{"name": "a", "events": "x"}]}
            }
        }
    ).funnels[0]
    progress, days = add_entries(tiny, FunnelProgress(), [(T0 + i, 1, ()) for i in range(3)])
    assert [t for t, _, _ in progress.entries] == [T0 + 1, T0 + 2]
    assert days == {TODAY}
    progress, days = add_entries(tiny, progress, [(T0 - 5 * DAY, 1, ())])
    assert progress.dropped == 1
    assert days == set()


def test_entry_day_is_the_local_day_of_the_zone() -> None:
    """17:30 UTC is already the next day in Asia/Shanghai (+08:00)."""
    utc = funnels(COMMERCE_SPEC).funnels[0]
    shanghai = funnels(COMMERCE_SPEC).in_zone(8 * 3600).funnels[0]
    t = 19_000 * 86_400 + 17 * 3600 + 1800
    assert utc.day_of(t) == 19_000
    assert shanghai.day_of(t) == 19_001
    assert shanghai.day_start(19_001) == 19_001 * 86_400 - 8 * 3600
    _, done = advance(shanghai, None, ev("$pageview", t))
    assert {c.day for c in done} == {19_001}
    _, done = advance(utc, None, ev("$pageview", t))
    assert {c.day for c in done} == {19_000}
