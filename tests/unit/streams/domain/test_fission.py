"""Share chains: attribution, edges with depth and root, levels, rewards, merges."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from schemas.records import TrackEvent
from streams.domain import fission
from streams.domain.fission import FissionSignal, InviteeState, SharerState
from tests.unit.streams.domain.funnel_factories import DAY, FISSION_SPEC, T0, ev, funnels

DEFS = funnels(FISSION_SPEC)
FUNNEL = DEFS.fission_funnel
assert FUNNEL is not None


def visit(user: str, sharer: str, t: int, **ctx: Any) -> TrackEvent:
    return ev(
        "$MPViewScreen", t, user=user, context={"share": {"sharer": sharer, "depth": 2}, **ctx}
    )


def run(
    events: list[TrackEvent], defs: Any = DEFS
) -> tuple[dict[str, SharerState], fission.SharerOutputs]:
    """Both stages for a few users; the identity of a sharer is ``id-<user>``."""
    funnel = defs.fission_funnel
    invitees: dict[str, InviteeState] = {}
    sharers: dict[str, SharerState] = {}
    total = fission.SharerOutputs()
    for e in events:
        user = e.user_id or ""
        share = fission.share_of(e)
        resolved = {share[0]: share[0][3:]} if share and share[0].startswith("id-") else {}
        invitees[user], signals = fission.attribute(
            funnel, defs.fission, invitees.get(user), user, [e], resolved
        )
        while signals:
            sig = signals.pop(0)
            sharers[sig.to], out = fission.absorb(
                funnel, defs.fission, sharers.get(sig.to), sig.to, [sig]
            )
            signals.extend(out.signals)
            total.completions.extend(out.completions)
            total.edges.extend(out.edges)
            total.rewards.extend(out.rewards)
    return sharers, total


def test_share_of_reads_native_and_sensors_fields() -> None:
    assert fission.share_of(visit("b", "id-a", T0)) == ("id-a", 2)
    sensors = ev("x", T0, props={"$share_distinct_id": "d1", "$share_depth": 3})
    assert fission.share_of(sensors) == ("d1", 3)
    assert fission.share_of(ev("x", T0, props={"$share_distinct_id": "d1"})) == ("d1", 1)
    assert fission.share_of(ev("x", T0)) is None


def test_a_full_chain_reaches_every_step_and_builds_the_tree() -> None:
    sharers, out = run(
        [
            ev("share", T0, user="a"),
            visit("b", "id-a", T0 + 10),
            ev("register", T0 + 20, user="b"),
            ev("pay_order", T0 + 30, user="b"),
            ev("share", T0 + 40, user="b"),
            visit("c", "id-b", T0 + 50, utm={"campaign": "spring"}),
        ]
    )
    levels = sorted((c.funnel, c.step) for c in out.completions if c.dimension == "")
    assert [s for f, s in levels] == [1, 1, 2, 2, 3, 4]
    edges = {(e.sharer, e.invitee, e.step_name): (e.depth, e.root, e.campaign) for e in out.edges}
    assert edges[("a", "b", "visit")] == (1, "a", "")
    assert edges[("a", "b", "first_order")] == (1, "a", "")
    assert edges[("b", "c", "visit")] == (2, "a", "spring")
    assert sharers["c"].inviter == "b"
    assert sharers["c"].root == "a"
    assert sharers["c"].depth == 2


def test_only_the_first_order_counts() -> None:
    _, out = run(
        [
            ev("pay_order", T0, user="b"),
            ev("share", T0 + 1, user="a"),
            visit("b", "id-a", T0 + 2),
            ev("pay_order", T0 + 3, user="b"),
        ]
    )
    assert "first_order" not in {e.step_name for e in out.edges}


def test_self_visits_and_unresolved_sharers_are_ignored() -> None:
    _, out = run(
        [ev("share", T0, user="a"), visit("a", "id-a", T0 + 1), visit("b", "unknown", T0 + 2)]
    )
    assert out.edges == []
    state, signals = fission.attribute(FUNNEL, DEFS.fission, None, "b", [visit("b", "zzz", T0)], {})
    assert signals == []
    assert state == InviteeState()


@pytest.mark.parametrize(("attribution", "credited"), [("first", "a"), ("last", "c")])
def test_attribution_credits_first_or_last_touch(attribution: str, credited: str) -> None:
    spec = copy.deepcopy(FISSION_SPEC)
    spec["fission"]["attribution"] = attribution
    _, out = run(
        [visit("b", "id-a", T0), visit("b", "id-c", T0 + 5), ev("register", T0 + 9, user="b")],
        funnels(spec),
    )
    assert [(e.sharer, e.step_name) for e in out.edges if e.step_name == "register"] == [
        (credited, "register")
    ]


def test_rewards_at_thresholds_once() -> None:
    events = [ev("share", T0, user="a")]
    for i, friend in enumerate(["b", "c", "d", "e"]):
        events += [
            visit(friend, "id-a", T0 + 10 * i + 1),
            ev("register", T0 + 10 * i + 2, user=friend),
        ]
    events += [ev("register", T0 + 99, user="b")]
    sharers, out = run(events)
    assert [(r.user_id, r.old, r.new, r.invitee) for r in out.rewards] == [
        ("a", None, 2, "c"),
        ("a", 2, 3, "d"),
    ]
    assert sharers["a"].successes == frozenset("bcde")


def test_signals_are_idempotent() -> None:
    sig = [FissionSignal("a", "share", T0), FissionSignal("a", "invitee", T0 + 1, "b", 2)]
    state, first = fission.absorb(FUNNEL, DEFS.fission, None, "a", sig)
    again, second = fission.absorb(FUNNEL, DEFS.fission, state, "a", sig)
    assert [c.step for c in first.completions if not c.dimension] == [1, 2]
    assert second.completions == []
    assert second.edges == []
    assert second.signals == []
    assert again == state


def test_old_share_days_close_and_late_signals_are_ignored() -> None:
    state, _ = fission.absorb(
        FUNNEL,
        DEFS.fission,
        None,
        "a",
        [FissionSignal("a", "share", T0), FissionSignal("a", "invitee", T0 + 1, "b", 2)],
    )
    state, _ = fission.absorb(
        FUNNEL, DEFS.fission, state, "a", [FissionSignal("a", "share", T0 + 6 * DAY)]
    )
    assert state.invitees == {}
    assert all(t >= T0 + DAY for t, _, _ in state.shares.entries)
    state, out = fission.absorb(
        FUNNEL, DEFS.fission, state, "a", [FissionSignal("a", "invitee", T0 + 2, "b", 3)]
    )
    assert out.completions == []
    assert state.invitees == {}


def test_inviter_signal_keeps_the_first_inviter() -> None:
    state, _ = fission.absorb(
        FUNNEL,
        DEFS.fission,
        None,
        "c",
        [FissionSignal("c", "inviter", T0, inviter="b", root="a", depth=2)],
    )
    state, _ = fission.absorb(
        FUNNEL,
        DEFS.fission,
        state,
        "c",
        [FissionSignal("c", "inviter", T0, inviter="x", root="x", depth=1)],
    )
    assert (state.inviter, state.root, state.depth) == ("b", "a", 2)


def test_json_round_trips() -> None:
    sharers, _ = run(
        [ev("share", T0, user="a"), visit("b", "id-a", T0 + 1), ev("register", T0 + 2, user="b")]
    )
    for state in sharers.values():
        assert SharerState.from_json(state.to_json()) == state
    assert SharerState.from_json(None) == SharerState()
    invitee, _ = fission.attribute(
        FUNNEL, DEFS.fission, None, "b", [visit("b", "id-a", T0)], {"id-a": "a"}
    )
    assert InviteeState.from_json(invitee.to_json()) == invitee
    assert InviteeState.from_json(None) == InviteeState()


def test_merges() -> None:
    one, _ = fission.attribute(
        FUNNEL, DEFS.fission, None, "b", [visit("b", "id-a", T0 + 5)], {"id-a": "a"}
    )
    two, _ = fission.attribute(
        FUNNEL,
        DEFS.fission,
        None,
        "b2",
        [visit("b2", "id-c", T0), ev("pay_order", T0 + 9, user="b2")],
        {"id-c": "c"},
    )
    merged = fission.merge_invitee(one, two)
    assert merged.first is not None
    assert merged.first.sharer == "c"
    assert merged.last is not None
    assert merged.last.sharer == "a"
    assert merged.seen_once == frozenset({3})
    assert fission.merge_invitee(None, one) is one
    assert fission.merge_invitee(InviteeState(), InviteeState()) == InviteeState()

    sharers, _ = run(
        [ev("share", T0, user="a"), visit("b", "id-a", T0 + 1), ev("register", T0 + 2, user="b")]
    )
    other, _ = run(
        [ev("share", T0, user="a2"), visit("c", "id-a2", T0 + 1), ev("register", T0 + 2, user="c")]
    )
    union = fission.merge_sharer(sharers["a"], other["a2"])
    assert union.successes == frozenset({"b", "c"})
    assert set(union.invitees) == {"b", "c"}
    assert fission.merge_sharer(None, union) is union
    assert fission.merge_sharer(SharerState(), sharers["b"]).inviter == "a"
    settled, out = fission.absorb(FUNNEL, DEFS.fission, union, "a", [])
    assert [(r.old, r.new, r.invitee) for r in out.rewards] == [(None, 2, "")]
    assert settled.successes == union.successes


def test_events_outside_the_funnel_send_nothing() -> None:
    state, signals = fission.attribute(FUNNEL, DEFS.fission, None, "b", [ev("login", T0)], {})
    assert state == InviteeState()
    assert signals == []
