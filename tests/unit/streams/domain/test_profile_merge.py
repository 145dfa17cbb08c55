from __future__ import annotations

import pytest

from streams.domain.profile_merge import merge
from streams.domain.tag_definitions import LifecycleDef
from streams.domain.tags import apply_events, tick
from tests.unit.streams.domain.tag_helpers import DAY, HOUR, T0, defs, ev

D = defs(lifecycle=LifecycleDef(new_for=2 * DAY, silent_after=5 * DAY, churned_after=10 * DAY))


def _user(uid: str, events, now: int):  # type: ignore[no-untyped-def]
    return apply_events(D, None, events, now, user_id=uid, project="p").profile


def test_merge_adds_counts_and_takes_min_and_max_times() -> None:
    a = _user(
        "a",
        [ev(t=T0 + DAY, user="a", platform="h5"), ev("pay_order", T0 + DAY, user="a", amount=10)],
        T0 + DAY,
    )
    b = _user(
        "b",
        [
            ev("$MPLaunch", T0, user="b", context={"scene": 1007, "share": {"sharer": "x"}}),
            ev("pay_order", T0 + 3 * DAY, user="b", amount=5.5),
            ev("view_product", T0, user="b", category="shoes"),
            ev("add_to_cart", T0, user="b"),
            ev("favorite", T0, user="b", content_tags=["run"]),
        ],
        T0 + 3 * DAY,
    )
    m = merge(D, a, b, survivor_id="a")
    assert m["uid"] == "a"
    assert (m["first_seen"], m["last_seen"]) == (T0, T0 + 3 * DAY)
    assert (m["orders"], m["paid"]) == (2, 15.5)
    assert (m["first_order_at"], m["last_order_at"]) == (T0 + DAY, T0 + 3 * DAY)
    assert m["platforms"] == ["h5", "miniprogram"]
    assert m["first_platform"] == "miniprogram"
    assert m["first_touch"] is not None
    assert m["first_touch"]["channel"] == "share"
    assert m["categories"] == {"shoes": 1}
    assert m["inviter"] == "x"
    assert m["daily"]["pay_order"]
    assert m["order_days"]
    assert m["retired"] == {"b": b["tags"]}
    assert m["tags"] == a["tags"]
    assert m["due"] == 1


def test_the_tick_after_a_merge_recomputes_and_retires_the_loser() -> None:
    a = _user("a", [ev(t=T0, user="a")], T0)
    b = _user("b", [ev(t=T0 - 30 * DAY, user="b"), ev("pay_order", T0, user="b", amount=1)], T0)
    result = tick(D, merge(D, a, b, survivor_id="a"), T0 + HOUR, cause="merge")
    tags = result.profile["tags"]
    assert tags["first_seen"] == T0 - 30 * DAY
    assert tags["lifecycle"] == "active"
    assert tags["orders"] == 1
    removed = {c.tag for c in result.changes if c.user_id == "b"}
    assert removed == set(b["tags"])
    assert all(c.new is None and c.cause == "merge" for c in result.changes if c.user_id == "b")
    assert result.profile["retired"] == {}


@pytest.mark.parametrize(
    ("a_events", "b_events", "channel"),
    [
        pytest.param([], [{"scene": 1047}], "qr", id="survivor-without-touch"),
        pytest.param([{}], [{"scene": 1047}], "qr", id="real-entry-beats-direct-guess"),
        pytest.param([{"scene": 1047}], [{}], "qr", id="direct-guess-loses-either-way"),
        pytest.param([{"scene": 1007}], [{"scene": 1047}], "qr", id="earlier-wins"),
    ],
)
def test_first_touch_of_merged_users(a_events, b_events, channel) -> None:  # type: ignore[no-untyped-def]
    a = _user("a", [ev("$MPLaunch", T0 + HOUR, user="a", context=c) for c in a_events], T0)
    b = _user("b", [ev("$MPLaunch", T0, user="b", context=c) for c in b_events], T0)
    m = merge(D, a if a_events else None, b, survivor_id="a")
    assert m["first_touch"] is not None
    assert m["first_touch"]["channel"] == channel
    assert m["latest_touch"] is not None


def test_merge_into_nothing_keeps_the_loser_facts() -> None:
    b = _user("b", [ev(user="b"), ev("pay_order", user="b", amount=2)], T0)
    m = merge(D, None, b, survivor_id="s")
    assert (m["uid"], m["orders"], m["first_seen"]) == ("s", 1, T0)
    assert m["retired"] == {"b": b["tags"]}


def test_referral_facts_merge_without_self_references() -> None:
    a = _user("a", [ev(user="a", context={"share": {"sharer": "b"}})], T0)
    a["invitees"] = ["b", "c"]
    b = _user("b", [ev(user="b")], T0)
    b["invitees"] = ["d"]
    b["referral_credited"] = True
    m = merge(D, a, b, survivor_id="a")
    assert m["inviter"] == ""
    assert m["invitees"] == ["c", "d"]
    assert m["referral_credited"] is True


def test_merge_without_content_definitions_keeps_survivor_interests() -> None:
    d = defs(content=None)
    m = merge(d, {"interests": {"x": [1.0, 1.0]}}, {"interests": {"y": [1.0, 1.0]}})
    assert m["interests"] == {"x": [1.0, 1.0]}
    assert m["uid"] == ""


def test_merge_is_commutative_in_facts() -> None:
    a = _user("a", [ev(user="a", t=T0), ev("view_product", T0, user="a")], T0)
    b = _user("b", [ev(user="b", t=T0 + DAY), ev("view_product", T0 + DAY, user="b")], T0)
    ab, ba = merge(D, a, b, survivor_id="s"), merge(D, b, a, survivor_id="s")
    for key in ("first_seen", "last_seen", "daily", "visit_days", "orders", "seen_ids"):
        if key == "seen_ids":
            assert sorted(ab[key]) == sorted(ba[key])
        else:
            assert ab[key] == ba[key], key
