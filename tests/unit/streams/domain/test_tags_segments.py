"""The tag engine with user properties and live segments."""

from __future__ import annotations

import dataclasses
from typing import Any

from schemas.records import TrackEvent
from streams.domain.profile import Credit
from streams.domain.profile_merge import merge
from streams.domain.segments import SegmentSet, compile_segment
from streams.domain.tag_rules import compile_rule, fact_names
from streams.domain.tags import apply_events, credit_referral, tick
from tests.unit.streams.domain.tag_helpers import T0, defs, ev

SEGS = SegmentSet(
    shipped=(
        compile_segment("payers", '"paying" in tags'),
        compile_segment("gold", 'has(properties.tier) && properties.tier == "gold"'),
        compile_segment("broken", "properties.missing == 1"),
        compile_segment("elsewhere", "true", projects=["other"]),
    )
)


def prop(kind: str, t: int = T0, *, event_id: str | None = None, **values: Any) -> TrackEvent:
    return dataclasses.replace(ev("", t, event_id=event_id), type=kind, properties=values)


def test_property_events_update_the_document_not_the_behaviour() -> None:
    result = apply_events(
        defs(),
        None,
        [prop("profile_set", tier="gold"), prop("profile_increment", points=3)],
        T0 + 1,
        user_id="u1",
        project="p",
        segments=SEGS,
    )
    p = result.profile
    assert p["properties"]["values"] == {"tier": "gold", "points": 3}
    assert p["first_seen"] == 0
    assert result.properties_changed
    assert result.applied == 2
    assert p["segments"] == ["gold"]
    assert [(c.segment, c.change) for c in result.segment_changes] == [("gold", "enter")]
    assert ("segment:broken", "KeyError: 'missing'") in [
        (n, r.replace('"', "'")) for n, r in result.rule_errors
    ]


def test_wrong_type_is_rejected_and_the_rest_applied() -> None:
    first = apply_events(defs(), None, [prop("profile_set", name="x")], T0, user_id="u1")
    bad = prop("profile_increment", name=1)
    result = apply_events(
        defs(), first.profile, [bad, prop("profile_set", city="sh")], T0 + 1, segments=SEGS
    )
    assert [(e.event_id, "cannot increment" in r) for e, r in result.rejected] == [
        (bad.event_id, True)
    ]
    assert result.profile["properties"]["values"] == {"name": "x", "city": "sh"}
    only_bad = apply_events(defs(), first.profile, [prop("profile_increment", name=2)], T0 + 2)
    assert len(only_bad.rejected) == 1
    assert only_bad.applied == 0
    # A replayed increment counts once.
    inc = prop("profile_increment", points=1, event_id="inc-1")
    once = apply_events(defs(), None, [inc], T0)
    twice = apply_events(defs(), once.profile, [inc], T0 + 1)
    assert twice.profile["properties"]["values"] == {"points": 1}
    assert twice.applied == 0


def test_tag_rules_read_properties() -> None:
    rule = compile_rule(
        "vip_member", 'has(properties.tier) && properties.tier == "gold"', "flag",
        fact_names((7, 30, 90)), 1,
    )  # fmt: skip
    d = defs(rules=(rule,))
    result = apply_events(
        d, None, [prop("profile_set", tier="gold"), ev("$pageview", T0)], T0 + 1, user_id="u1"
    )
    assert result.profile["tags"]["vip_member"] is True


def test_segments_follow_tags_and_time_and_merges() -> None:
    paid = apply_events(
        defs(), None, [ev("pay_order", T0, amount=5)], T0 + 1, user_id="u1", project="p",
        segments=SEGS,
    )  # fmt: skip
    assert paid.profile["segments"] == ["payers"]
    other = apply_events(
        defs(), None, [prop("profile_set", tier="gold"), ev("$pageview", T0)], T0 + 1,
        user_id="u2", project="p", segments=SEGS,
    )  # fmt: skip
    assert other.profile["segments"] == ["gold"]
    merged = merge(defs(), paid.profile, other.profile, survivor_id="u1")
    after = tick(defs(), merged, T0 + 2, cause="merge", segments=SEGS)
    assert after.properties_changed
    moves = {(c.user_id, c.segment, c.change, c.cause) for c in after.segment_changes}
    assert moves == {("u1", "gold", "enter", "merge"), ("u2", "gold", "exit", "merge")}
    assert after.profile["segments"] == ["gold", "payers"]
    assert after.profile["retired_segments"] == {}
    # Without segment definitions memberships are left as they are.
    assert tick(defs(), after.profile, T0 + 3).profile["segments"] == ["gold", "payers"]
    edited = SEGS.with_runtime("p", compile_segment("payers", "false"), "payers")
    again = tick(defs(), after.profile, T0 + 4, cause="segments", segments=edited)
    assert [(c.segment, c.change) for c in again.segment_changes] == [("payers", "exit")]
    credited = credit_referral(defs(), again.profile, Credit("u1", "u9", T0), T0 + 5,
                               segments=edited)  # fmt: skip
    assert credited.profile["segments"] == ["gold"]
