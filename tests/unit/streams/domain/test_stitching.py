"""Record stitching: identity preparation, the fast path, and the link barrier."""

from __future__ import annotations

from schemas.records import TrackEvent
from streams.domain.identity_rules import DEFAULT_RULES, Identity
from streams.domain.stitching import (
    LinkBarrier,
    Prepared,
    Stitched,
    known_users,
    prepare,
    stitch_known,
)


def _event(event_id: str, identities: dict[str, str], etype: str = "track") -> TrackEvent:
    return TrackEvent(
        event_id=event_id, type=etype, event="e", time=1, platform="h5", identities=identities
    )


def test_prepare_normalizes_known_types_and_keeps_unknown_ones() -> None:
    p = prepare(DEFAULT_RULES, _event("1", {"anonymous_id": " AB ", "mobile": "junk", "x": "1"}))
    assert p.event.identities == {"anonymous_id": "ab", "x": "1"}
    assert p.identities == [Identity("anonymous_id", "ab")]
    assert prepare(DEFAULT_RULES, p.event).event is p.event  # idempotent, no copy


def test_stitch_known_groups_a_record_by_user() -> None:
    owners = {Identity("anonymous_id", "a"): "u1", Identity("anonymous_id", "b"): "u2"}
    events = [
        prepare(DEFAULT_RULES, _event(str(i), {"anonymous_id": k})) for i, k in enumerate("aba")
    ]
    groups = stitch_known(DEFAULT_RULES, owners.get, "p", events)
    assert groups is not None
    assert [(g.user_id, [e.event_id for e in g.events]) for g in groups] == [
        ("u1", ["0", "2"]),
        ("u2", ["1"]),
    ]
    assert all(e.user_id == g.user_id for g in groups for e in g.events)
    unknown = [*events, prepare(DEFAULT_RULES, _event("3", {"anonymous_id": "c"}))]
    assert stitch_known(DEFAULT_RULES, owners.get, "p", unknown) is None
    assert isinstance(groups[0], Stitched)


def test_known_users_of_a_record() -> None:
    owners = {Identity("anonymous_id", "a"): "u1"}
    records = [
        Prepared(_event("1", {}), [Identity("anonymous_id", "a"), Identity("login_id", "l")])
    ]
    assert known_users(owners.get, records) == {"u1"}


def test_the_first_record_of_a_partition_waits_for_the_link_path() -> None:
    barrier = LinkBarrier()
    assert barrier.must_link(10, {"u1"}, decided=-1)
    barrier.sent(10, {"u1"})
    assert barrier.must_link(11, {"u2"}, decided=-1)  # held until 10 is decided
    barrier.sent(11, {"u2"})
    assert not barrier.must_link(12, {"u3"}, decided=11)


def test_a_users_later_records_follow_its_pending_link() -> None:
    barrier = LinkBarrier()
    barrier.must_link(0, set(), decided=-1)
    barrier.sent(0, set())
    assert not barrier.must_link(1, {"u1"}, decided=0)
    barrier.sent(1, {"u1"})  # went to the link path (a new identity)
    assert barrier.must_link(2, {"u1"}, decided=0)
    barrier.sent(2, {"u1"})
    assert not barrier.must_link(3, {"u2"}, decided=0)
    assert barrier.must_link(4, {"u1"}, decided=1)
    assert not barrier.must_link(5, {"u1"}, decided=2)


def test_a_jump_in_offsets_holds_everything_again() -> None:
    barrier = LinkBarrier()
    barrier.must_link(0, set(), decided=-1)
    assert not barrier.must_link(1, {"u1"}, decided=0)
    assert barrier.must_link(7, {"u1"}, decided=0)  # replay or rebalance
    assert not barrier.must_link(8, {"u1"}, decided=7)
