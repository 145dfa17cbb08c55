from __future__ import annotations

import pytest

from streams.domain.lifecycle import next_change, stage
from streams.domain.tag_definitions import LifecycleDef

L = LifecycleDef(new_for=7, silent_after=14, churned_after=30)


@pytest.mark.parametrize(
    ("first_seen", "last_active", "now", "expected"),
    [
        pytest.param(0, 0, 100, None, id="never-seen"),
        pytest.param(100, 100, 100, "new", id="first-day"),
        pytest.param(100, 105, 106, "new", id="still-new"),
        pytest.param(100, 105, 107, "active", id="new-period-over"),
        pytest.param(100, 100, 113, "active", id="idle-below-silent-after-new"),
        pytest.param(100, 100, 114, "silent", id="silent-beats-new"),
        pytest.param(100, 120, 133, "active", id="active-idle-13"),
        pytest.param(100, 120, 134, "silent", id="silent-at-boundary"),
        pytest.param(100, 120, 149, "silent", id="silent-before-churn"),
        pytest.param(100, 120, 150, "churned", id="churned-at-boundary"),
    ],
)
def test_stage(first_seen: int, last_active: int, now: int, expected: str | None) -> None:
    assert stage(L, first_seen, last_active, now) == expected


@pytest.mark.parametrize(
    ("first_seen", "last_active", "now", "expected"),
    [
        pytest.param(0, 0, 100, None, id="never-seen"),
        pytest.param(100, 100, 100, 107, id="end-of-new"),
        pytest.param(100, 120, 121, 134, id="silent-next"),
        pytest.param(100, 120, 134, 150, id="churn-next"),
        pytest.param(100, 120, 150, None, id="nothing-left"),
    ],
)
def test_next_change(first_seen: int, last_active: int, now: int, expected: int | None) -> None:
    assert next_change(L, first_seen, last_active, now) == expected
