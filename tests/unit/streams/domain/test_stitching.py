"""Record stitching: identity preparation, the fast path, and the link barrier."""

from __future__ import annotations

import pytest

from streams.domain.identity_model import orphan_user_id
from streams.domain.identity_rules import DEFAULT_RULES, Identity
from streams.domain.stitching import LinkBarrier, plan_record, prepare_identities


def test_prepare_normalizes_known_types_and_keeps_unknown_ones() -> None:
    sent = {"anonymous_id": " AB ", "mobile": "junk", "x": "1"}
    identities, shown = prepare_identities(DEFAULT_RULES, sent)
    assert shown == {"anonymous_id": "ab", "x": "1"}
    assert identities == [Identity("anonymous_id", "ab")]
    again, same = prepare_identities(DEFAULT_RULES, shown)
    assert (again, same is shown) == (identities, True)  # idempotent, no copy


def test_a_record_of_known_identities_is_planned_per_event() -> None:
    owners = {Identity("anonymous_id", "a"): "u1", Identity("anonymous_id", "b"): "u2"}
    events = [("0", "track", {"anonymous_id": "A"}), ("1", "track", {"anonymous_id": "b"})]
    events += [("2", "track", {"anonymous_id": "A"}), ("3", "track", {"x": "1"})]
    plan = plan_record(DEFAULT_RULES, owners.get, "p", events)
    assert plan.users == ["u1", "u2", "u1", orphan_user_id("p", "3")]
    assert plan.identities[0] == {"anonymous_id": "a"}
    assert plan.identities[3] is events[3][2]  # unchanged: the same mapping
    assert plan.known == {"u1", "u2"}


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(("9", "track", {"anonymous_id": "new"}), id="unknown"),
        pytest.param(("9", "track", {"anonymous_id": "a", "cookie_id": "c2"}), id="two-users"),
        pytest.param(("9", "track_id_unbind", {"anonymous_id": "a"}), id="unbind"),
    ],
)
def test_a_record_needing_a_graph_change_takes_the_link_path(
    event: tuple[str, str, dict[str, str]],
) -> None:
    owners = {Identity("anonymous_id", "a"): "u1", Identity("cookie_id", "c2"): "u2"}
    events = [("0", "track", {"anonymous_id": "a"}), event, ("1", "track", {"anonymous_id": "a"})]
    plan = plan_record(DEFAULT_RULES, owners.get, "p", events)
    assert plan.users is None
    assert len(plan.identities) == 3
    assert "u1" in plan.known


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
