"""The identity graph's decisions when a record is decided again: replays, and runs cut
short between the graph's key writes (a worker killed mid-flush)."""

from __future__ import annotations

from streams.domain.identity_model import USER_ID, Merge, new_user_id
from streams.domain.identity_rules import Identity
from tests.unit.streams.domain.identity_graph import PROJECT, MemoryGraph


def test_replaying_an_event_changes_nothing_and_publishes_the_same_rows() -> None:
    g = MemoryGraph()
    first = g.decide({"anonymous_id": "x", "login_id": "hal"}, event_id="r")
    g.store(first)
    again = g.decide({"anonymous_id": "x", "login_id": "hal"}, event_id="r")
    assert again.outcome == "known"
    assert (again.users, again.owners, again.merges) == ((), (), ())
    assert {(a.identity, a.user_id) for a in again.published} == {
        (a.identity, a.user_id) for a in first.published
    }


def test_a_merge_cut_short_is_finished_and_published_again_on_replay() -> None:
    g = MemoryGraph()
    a = g.send({"anonymous_id": "a", "cookie_id": "ca"}, time=1)
    b = g.send({"anonymous_id": "b", "cookie_id": "cb"}, time=2)
    merge = g.decide({"anonymous_id": "a", "cookie_id": "cb"}, event_id="m")
    # The run stored only the user records, then the worker died.
    for record in merge.users:
        g.users[(PROJECT, record.user_id)] = record
    assert g.user_of("anonymous_id", "b") == b
    replay = g.decide({"anonymous_id": "a", "cookie_id": "cb"}, event_id="m")
    g.store(replay)
    assert replay.merges == (Merge(b, a, "link"),)
    assert replay.user_id == a
    assert g.user_of("anonymous_id", "b") == a
    assert g.user_of("cookie_id", "cb") == a
    assert g.published[(PROJECT, Identity(USER_ID, b))].user_id == a


def test_a_merge_stored_but_not_published_is_published_again_on_replay() -> None:
    g = MemoryGraph()
    a = g.send({"anonymous_id": "a"}, time=1)
    b = g.send({"anonymous_id": "b"}, time=2)
    merge = g.decide({"anonymous_id": "a", "cookie_id": "c"}, event_id="x")
    g.store(merge)
    merge = g.decide({"cookie_id": "c", "anonymous_id": "b"}, event_id="m")
    for record in merge.users:
        g.users[(PROJECT, record.user_id)] = record
    for assignment in merge.owners:
        g.owners[(PROJECT, assignment.identity)] = assignment.user_id
    replay = g.decide({"cookie_id": "c", "anonymous_id": "b"}, event_id="m")
    assert replay.merges == (Merge(b, a, "link"),)
    assert replay.owners == ()
    published = {a_.identity: a_.user_id for a_ in replay.published}
    assert published[Identity(USER_ID, b)] == a
    assert published[Identity("anonymous_id", "b")] == a
    # Another event on the same user does not publish the merge again.
    other = g.decide({"cookie_id": "c", "anonymous_id": "b"}, event_id="later")
    assert other.merges == ()


def test_an_assignment_without_its_user_record_counts_as_unknown() -> None:
    g = MemoryGraph()
    g.owners[(PROJECT, Identity("anonymous_id", "x"))] = "u-missing"
    result = g.decide({"anonymous_id": "x"}, event_id="1")
    assert result.outcome == "created"
    assert result.user_id == new_user_id(PROJECT, Identity("anonymous_id", "x"))


def test_a_user_record_written_by_a_cut_short_run_is_reused() -> None:
    g = MemoryGraph()
    first = g.decide({"anonymous_id": "x", "cookie_id": "c"}, event_id="1")
    for record in first.users:
        g.users[(PROJECT, record.user_id)] = record
    replay = g.decide({"anonymous_id": "x", "cookie_id": "c"}, event_id="1")
    assert replay.user_id == first.user_id
    assert replay.users[0].identities == first.users[0].identities


def test_a_limited_identity_whose_assignment_was_lost_is_reassigned_not_refused() -> None:
    """A run cut short stored the user record (which lists the unionid and login) but not
    their assignments: the replay gives them back to the same user, with no conflict."""
    g = MemoryGraph()
    user = g.send({"wx_openid:wxa": "o1"}, event_id="1")
    ids = {"wx_openid:wxa": "o1", "wx_unionid": "un1", "login_id": "m1"}
    first = g.decide(ids, event_id="2")
    for record in first.users:
        g.users[(PROJECT, record.user_id)] = record
    assert g.user_of("wx_unionid", "un1") is None
    replay = g.decide(ids, event_id="2")
    g.store(replay)
    assert (replay.user_id, replay.conflicts) == (user, ())
    assert g.user_of("wx_unionid", "un1") == g.user_of("login_id", "m1") == user
    assert len(g.groups()) == 1


def test_an_assignment_whose_user_record_was_lost_is_listed_again() -> None:
    """A run cut short stored the login's assignment but not the user record listing it:
    the replay lists it again, so a second login is still refused by the limit."""
    g = MemoryGraph()
    user = g.send({"wx_openid:wxa": "o1"}, event_id="1")
    ids = {"wx_openid:wxa": "o1", "login_id": "m1"}
    first = g.decide(ids, event_id="2")
    for assignment in first.owners:
        g.owners[(PROJECT, assignment.identity)] = assignment.user_id
    assert Identity("login_id", "m1") not in g.user(PROJECT, user).identities  # type: ignore[union-attr]
    replay = g.decide(ids, event_id="2")
    g.store(replay)
    assert Identity("login_id", "m1") in g.user(PROJECT, user).identities  # type: ignore[union-attr]
    other = g.decide({"wx_openid:wxa": "o1", "login_id": "m2"}, event_id="3")
    assert [c.reason for c in other.conflicts] == ["limit:login_id"]
