from __future__ import annotations

import dataclasses

import pytest

from streams.domain.profile import Credit, new_profile
from streams.domain.tag_definitions import ContentDef, LifecycleDef, RfmDef, TagChange, ValueTier
from streams.domain.tag_rules import compile_rule, fact_names
from streams.domain.tags import apply_events, credit_referral, diff, evaluate, next_due, tick
from tests.unit.streams.domain.tag_helpers import DAY, HOUR, T0, defs, ev

LIFE = LifecycleDef(new_for=2 * DAY, silent_after=5 * DAY, churned_after=10 * DAY)


def _rules(*pairs: tuple[str, str]):  # type: ignore[no-untyped-def]
    known = fact_names((7, 30, 90))
    return tuple(compile_rule(n, e, "flag", known, 1) for n, e in pairs)


def _changes(changes: tuple[TagChange, ...]) -> dict[str, tuple[object, object]]:
    return {c.tag: (c.old, c.new) for c in changes}


def test_first_event_publishes_fact_source_and_lifecycle_tags() -> None:
    d = defs(value_tiers=(ValueTier("low", 0.01),))
    launch = ev("$MPLaunch", T0, context={"scene": 1047, "query": {"qr_id": "q1"}})
    result = apply_events(
        d,
        None,
        [launch, ev("pay_order", T0 + 1, amount=20, event_id="ev-pay")],
        T0 + 2,
        user_id="u1",
        project="p",
    )
    tags = result.profile["tags"]
    assert result.applied == 2
    assert tags["first_channel"] == "qr"
    assert tags["first_qr_id"] == "q1"
    assert tags["lifecycle"] == "new"
    assert tags["paying"] is True
    assert tags["rfm_segment"] == "general_develop"
    assert tags["value_tier"] == "low"
    assert tags["count_7d:pay_order"] == 1
    assert result.profile["project"] == "p"
    assert {(c.cause, c.user_id) for c in result.changes} == {("ev-pay", "u1")}
    assert all(c.old is None and c.at == T0 + 2 for c in result.changes)


def test_evaluate_one_event_and_change_cause() -> None:
    e = ev("view_product", category="shoes")
    result = evaluate(defs(), None, e, T0)
    assert _changes(result.changes)["favourite_category"] == (None, "shoes")
    assert {c.cause for c in result.changes} == {e.event_id}


def test_replayed_events_change_nothing() -> None:
    e = ev("pay_order", amount=10)
    first = evaluate(defs(), None, e, T0)
    again = evaluate(defs(), first.profile, e, T0 + 1)
    assert again.applied == 0
    assert again.changes == ()
    assert again.profile["orders"] == 1


def test_the_given_profile_is_not_modified_unless_handed_over() -> None:
    base = evaluate(defs(), None, ev(), T0).profile
    snapshot = dict(base)
    evaluate(defs(), base, ev("pay_order", amount=3), T0)
    assert base == snapshot
    e = ev("pay_order", amount=3)
    expected = apply_events(defs(), base, [e], T0).profile
    assert apply_events(defs(), base, [e], T0, owned=True).profile == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        pytest.param(T0 + DAY, "new", id="day-1-new"),
        pytest.param(T0 + 2 * DAY, "active", id="day-2-active"),
        pytest.param(T0 + 5 * DAY, "silent", id="day-5-silent"),
        pytest.param(T0 + 10 * DAY, "churned", id="day-10-churned"),
    ],
)
def test_lifecycle_moves_on_ticks_without_events(at: int, expected: str) -> None:
    d = defs(lifecycle=LIFE)
    p = evaluate(d, None, ev(t=T0), T0).profile
    result = tick(d, p, at)
    assert result.profile["tags"]["lifecycle"] == expected
    if expected != "new":
        assert _changes(result.changes)["lifecycle"] == ("new", expected)
        assert {c.cause for c in result.changes} == {"timer"}


def test_rolling_counts_fall_out_of_their_windows() -> None:
    d = defs()
    p = evaluate(d, None, ev("view_product", T0), T0).profile
    assert p["tags"]["count_7d:view_product"] == 1
    later = tick(d, p, T0 + 7 * DAY)
    assert _changes(later.changes)["count_7d:view_product"] == (1, None)
    assert later.profile["tags"]["count_30d:view_product"] == 1


def test_timer_rule_cart_abandoned_after_24_hours() -> None:
    d = defs(rules=_rules(("cart_abandoned", "cart_open && hours_since_cart >= 24.0")))
    p = evaluate(d, None, ev("add_to_cart", T0), T0).profile
    assert "cart_abandoned" not in p["tags"]
    assert p["due"] == T0 + HOUR
    assert "cart_abandoned" not in tick(d, p, T0 + 23 * HOUR).profile["tags"]
    fired = tick(d, p, T0 + 24 * HOUR)
    assert _changes(fired.changes)["cart_abandoned"] == (None, True)
    paid = evaluate(d, fired.profile, ev("pay_order", T0 + 25 * HOUR, amount=1), T0 + 25 * HOUR)
    assert _changes(paid.changes)["cart_abandoned"] == (True, None)


def test_rule_errors_are_reported() -> None:
    d = defs(rules=_rules(("broken", "count_7d['nope'] > 0")))
    result = evaluate(d, None, ev(), T0)
    assert [name for name, _ in result.rule_errors] == ["broken"]


def test_rfm_recency_moves_with_time() -> None:
    d = defs(rfm=RfmDef(recency_days=(7, 14, 30, 60), high_from=3))
    p = evaluate(d, None, ev("pay_order", T0, amount=900), T0).profile
    assert p["tags"]["rfm_segment"] == "important_develop"
    later = tick(d, p, T0 + 31 * DAY)
    assert _changes(later.changes)["rfm_segment"] == ("important_develop", "important_win_back")
    assert later.profile["tags"]["rfm_r"] == 2


def test_interest_tags_from_content() -> None:
    d = defs(content=ContentDef(weights={"favorite": 3.0}, min_score=2.0, top_n=1))
    result = evaluate(d, None, ev("favorite", content_tags=["yoga", "run"]), T0)
    assert result.profile["tags"]["interest:run"] is True
    assert "interest:yoga" not in result.profile["tags"]


def test_referral_credit_counts_once_and_makes_a_koc() -> None:
    d = defs()
    p = evaluate(d, None, ev(user="inv"), T0).profile
    for n, invitee in enumerate(["a", "b", "c"], start=1):
        result = credit_referral(d, p, Credit("inv", invitee, T0), T0 + n)
        p = result.profile
        assert p["tags"]["invitees"] == n
        assert result.changes[0].cause == f"referral:{invitee}"
    assert p["tags"]["koc"] is True
    assert credit_referral(d, p, Credit("inv", "a", T0), T0 + 9).changes == ()


def test_credit_for_an_inviter_never_seen_creates_a_profile() -> None:
    result = credit_referral(defs(), None, Credit("inv", "a", T0), T0)
    assert result.profile["uid"] == "inv"
    assert _changes(result.changes) == {"invitees": (None, 1)}


def test_invitee_reports_a_credit_on_success() -> None:
    d = defs()
    visit = ev(context={"share": {"sharer": "inv"}})
    result = apply_events(d, None, [visit, ev("register")], T0, user_id="u1")
    assert [(c.inviter, c.invitee) for c in result.credits] == [("inv", "u1")]
    assert result.profile["tags"]["inviter"] == "inv"


def test_disabled_groups_publish_nothing_of_theirs() -> None:
    d = defs(lifecycle=None, rfm=None, referral=None, content=None)
    tags = evaluate(d, None, ev("pay_order", amount=5), T0).profile["tags"]
    assert not {"lifecycle", "rfm_segment", "value_tier", "inviter"} & tags.keys()
    assert tick(d, new_profile(), T0).profile["tags"] == {}


def test_diff_treats_a_type_change_as_a_change() -> None:
    assert diff("u", {"a": 1}, {"a": True}, 5, "x") == [TagChange("u", "a", 1, True, 5, "x")]
    assert diff("u", {"a": 1}, {"a": 1}, 5, "x") == []


def test_next_due() -> None:
    d = defs(lifecycle=LIFE)
    assert next_due(d, new_profile(), T0) is None
    p = evaluate(d, None, ev(t=T0 + HOUR), T0 + HOUR).profile
    assert p["due"] == T0 + DAY  # local midnight comes before the end of "new"
    quiet = dataclasses.replace(d, lifecycle=None)
    assert next_due(quiet, p, T0 + 200 * DAY) is None
    assert next_due(d, p, T0 + 200 * DAY) is None


def test_repeat_buyer_and_a_profile_without_touches() -> None:
    p = new_profile("u1")
    p["first_seen"] = p["last_seen"] = T0
    p["orders"], p["paid"] = 2, 10.0
    tags = tick(defs(), p, T0).profile["tags"]
    assert tags["repeat_buyer"] is True
    assert not any(t.startswith(("first_channel", "latest_channel")) for t in tags)


def test_touch_facts_are_text() -> None:
    d = defs(
        rules=_rules(("from_qr", "first_touch.channel == 'qr' && first_touch.scene == '1047'"))
    )
    launch = ev("$MPLaunch", context={"scene": 1047})
    assert evaluate(d, None, launch, T0).profile["tags"]["from_qr"] is True
