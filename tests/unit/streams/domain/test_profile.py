from __future__ import annotations

from streams.domain.profile import fold_event, local_day, new_profile, normalize, prune
from streams.domain.tag_definitions import ContentDef, EventNames
from tests.unit.streams.domain.tag_helpers import DAY, HOUR, T0, defs, ev


def _fold(*events):  # type: ignore[no-untyped-def]
    d = defs()
    p = new_profile()
    credits = []
    for e in events:
        _, credit = fold_event(d, p, e)
        if credit is not None:
            credits.append(credit)
    return p, credits


def test_first_and_last_seen_follow_event_time_not_arrival_order() -> None:
    p, _ = _fold(ev(t=T0 + 5 * HOUR, platform="h5"), ev(t=T0, platform="miniprogram"))
    assert (p["first_seen"], p["last_seen"]) == (T0, T0 + 5 * HOUR)
    assert p["first_platform"] == "miniprogram"
    assert p["platforms"] == ["h5", "miniprogram"]


def test_counts_orders_categories_and_cart() -> None:
    p, _ = _fold(
        ev("view_product", category="shoes"),
        ev("view_product", category="shoes"),
        ev("view_product", category=""),
        ev("add_to_cart", T0 + HOUR),
        ev("pay_order", T0 + 2 * HOUR, amount="99.5"),
        ev("pay_order", T0 + DAY, amount=100),
        ev("pay_order", T0 + DAY, amount="n/a"),
        ev("pay_order", T0 + DAY, amount=True),
        ev("pay_order", T0 + DAY, amount=None),
    )
    day = str(local_day(defs(), T0))
    assert p["daily"]["view_product"] == {day: 3}
    assert p["categories"] == {"shoes": 2}
    assert p["last_cart_at"] == T0 + HOUR
    assert (p["orders"], p["paid"]) == (5, 199.5)
    assert (p["first_order_at"], p["last_order_at"]) == (T0 + 2 * HOUR, T0 + DAY)
    assert p["order_days"][day] == [1, 99.5]


def test_a_resent_event_id_is_folded_once() -> None:
    d = defs(dedupe_ids=2)
    p = new_profile()
    assert fold_event(d, p, ev("pay_order", event_id="a", amount=5))[0]
    assert not fold_event(d, p, ev("pay_order", event_id="a", amount=5))[0]
    fold_event(d, p, ev(event_id="b"))
    fold_event(d, p, ev(event_id="c"))
    assert len(p["seen_ids"]) == 2
    assert p["orders"] == 1


def test_visits_record_days_and_last_visit() -> None:
    p, _ = _fold(ev(t=T0), ev(t=T0 + HOUR), ev(t=T0 + DAY), ev("view_product", T0 + 3 * DAY))
    assert p["visit_days"] == [local_day(defs(), T0), local_day(defs(), T0) + 1]
    assert p["last_visit"] == T0 + DAY
    assert p["last_seen"] == T0 + 3 * DAY


def test_first_touch_without_source_is_direct_until_the_launch_of_the_same_visit() -> None:
    p, _ = _fold(ev(t=T0), ev("$MPLaunch", T0 + 1000, context={"scene": 1047}))
    assert p["first_touch"] is not None
    assert p["first_touch"]["channel"] == "qr"
    assert p["latest_touch"] == p["first_touch"]


def test_direct_first_touch_stays_when_the_source_comes_in_a_later_visit() -> None:
    p, _ = _fold(ev(t=T0), ev("$MPLaunch", T0 + DAY, context={"scene": 1007}))
    assert p["first_touch"] is not None
    assert p["latest_touch"] is not None
    assert p["first_touch"]["channel"] == "direct"
    assert p["latest_touch"]["channel"] == "share"


def test_first_and_latest_touch_by_time() -> None:
    late = ev("$MPLaunch", T0 + DAY, context={"scene": 1007})
    early = ev("$MPLaunch", T0, context={"scene": 1047})
    older = ev("$MPShow", T0 - DAY, context={"scene": 1045})
    p, _ = _fold(late, early, older)
    assert p["first_touch"] is not None
    assert p["latest_touch"] is not None
    assert p["first_touch"]["channel"] == "ads"
    assert p["latest_touch"]["channel"] == "share"


def test_referral_inviter_and_one_credit_on_success() -> None:
    share = {"share": {"sharer": "inviter-1", "depth": 1}}
    p, credits = _fold(
        ev(context=share),
        ev(context={"share": {"sharer": "someone-else"}}),
        ev("register"),
        ev("register"),
    )
    assert p["inviter"] == "inviter-1"
    assert p["referral_credited"] is True
    assert [(c.inviter, c.invitee) for c in credits] == [("inviter-1", "u1")]


def test_referral_prefers_a_resolved_sharer_user_id_and_ignores_self_shares() -> None:
    p, _ = _fold(ev(context={"share": {"sharer": "o-openid", "sharer_user_id": "u7"}}))
    assert p["inviter"] == "u7"
    own, _ = _fold(ev(context={"share": {"sharer": "u1"}}), ev(context={"share": "x"}))
    assert own["inviter"] == ""


def test_without_referral_and_content_definitions_nothing_is_recorded() -> None:
    d = defs(referral=None, content=None)
    p = new_profile()
    _, credit = fold_event(d, p, ev("register", context={"share": {"sharer": "x"}}))
    assert credit is None
    assert p["inviter"] == ""


def test_content_interest_is_folded() -> None:
    d = defs(content=ContentDef(weights={"view_content": 2.0}))
    p = new_profile()
    fold_event(d, p, ev("view_content", content_tags=["running"]))
    assert p["interests"] == {"running": [2.0, float(T0)]}


def test_prune_drops_buckets_past_the_horizon() -> None:
    d = defs(events=EventNames(counted=("view_product",)))
    p = new_profile()
    fold_event(d, p, ev("view_product", T0))
    fold_event(d, p, ev(t=T0))
    fold_event(d, p, ev("pay_order", T0, amount=1))
    prune(d, p, T0 + 5 * DAY)
    assert p["daily"]
    assert p["visit_days"]
    assert p["order_days"]
    prune(d, p, T0 + (d.horizon_days + 1) * DAY)
    assert (p["daily"], p["visit_days"], p["order_days"]) == ({}, [], {})


def test_normalize_fills_fields_of_older_profiles() -> None:
    assert normalize(None) == new_profile()
    old = normalize({"uid": "u1", "orders": 2})
    assert old["orders"] == 2
    assert old["retired"] == {}


def test_a_sharer_that_is_not_text_is_ignored() -> None:
    p, _ = _fold(ev(context={"share": {"sharer": 5, "sharer_user_id": ""}}))
    assert p["inviter"] == ""
