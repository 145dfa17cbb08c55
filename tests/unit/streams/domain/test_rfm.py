from __future__ import annotations

import pytest

from streams.domain.rfm import rfm, value_tier
from streams.domain.tag_definitions import RfmDef, ValueTier

R = RfmDef(recency_days=(7, 14, 30, 60), frequency=(1, 2, 3, 5), monetary=(100, 300, 800, 2000))


@pytest.mark.parametrize(
    ("days", "orders", "paid", "expected"),
    [
        pytest.param(0, 5, 2000, (5, 5, 5, "important_value"), id="HHH"),
        pytest.param(30, 2, 300, (3, 3, 3, "important_value"), id="HHH-at-every-boundary"),
        pytest.param(31, 2, 300, (2, 3, 3, "important_retain"), id="LHH-recency-boundary"),
        pytest.param(7, 1, 300, (5, 2, 3, "important_develop"), id="HLH"),
        pytest.param(61, 1, 800, (1, 2, 4, "important_win_back"), id="LLH"),
        pytest.param(14, 3, 299.99, (4, 4, 2, "general_value"), id="HHL-monetary-boundary"),
        pytest.param(8, 1, 50, (4, 2, 1, "general_develop"), id="HLL"),
        pytest.param(45, 2, 100, (2, 3, 2, "general_retain"), id="LHL"),
        pytest.param(100, 0, 0, (1, 1, 1, "general_win_back"), id="LLL-nothing-in-window"),
    ],
)
def test_rfm_scores_and_segments(
    days: int, orders: int, paid: float, expected: tuple[int, int, int, str]
) -> None:
    assert rfm(R, days, orders, paid) == expected


TIERS = (ValueTier("low", 0.01), ValueTier("mid", 500), ValueTier("vip", 10000))


@pytest.mark.parametrize(
    ("paid", "expected"),
    [
        pytest.param(0, None, id="nothing-paid"),
        pytest.param(0.01, "low", id="low-boundary"),
        pytest.param(499.99, "low", id="below-mid"),
        pytest.param(500, "mid", id="mid-boundary"),
        pytest.param(10000, "vip", id="vip"),
    ],
)
def test_value_tier(paid: float, expected: str | None) -> None:
    assert value_tier(TIERS, paid) == expected
