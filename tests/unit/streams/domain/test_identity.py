"""The identity graph's decisions, scenario by scenario."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streams.domain.identity import link
from streams.domain.identity_model import (
    USER_ID,
    Merge,
    UserRecord,
    identities_by_type,
    new_user_id,
    orphan_user_id,
    user_from_doc,
    user_to_doc,
)
from streams.domain.identity_rules import DEFAULT_RULES, Identity, IdentityType
from tests.unit.streams.domain.identity_graph import PROJECT, MemoryGraph


def test_a_new_identity_creates_a_user_with_a_deterministic_id() -> None:
    g = MemoryGraph()
    result = g.decide({"anonymous_id": "A1"}, time=5)
    assert result.outcome == "created"
    assert result.user_id == new_user_id(PROJECT, Identity("anonymous_id", "a1"))
    assert result.users[0].created == 5
    published = {(a.identity.key, a.identity.value): a.user_id for a in result.published}
    assert published == {
        ("anonymous_id", "a1"): result.user_id,
        (USER_ID, result.user_id): result.user_id,
    }


def test_anonymous_browsing_then_login_is_one_user() -> None:
    g = MemoryGraph()
    anon = g.send({"anonymous_id": "x"}, event_id="e1")
    assert g.fast({"anonymous_id": "x"}) == anon
    assert g.fast({"anonymous_id": "x", "login_id": "alice"}) is None
    result = g.decide({"anonymous_id": "x", "login_id": "alice"}, event_id="e2")
    assert result.outcome == "joined"
    g.store(result)
    assert result.user_id == anon
    assert g.fast({"login_id": "alice"}) == anon
    assert g.groups() == {frozenset({Identity("anonymous_id", "x"), Identity("login_id", "alice")})}


def test_wechat_openids_join_through_the_unionid() -> None:
    g = MemoryGraph()
    mini = g.send({"wx_openid:wxmini": "o-mini", "wx_unionid": "un1"}, event_id="mp")
    app = g.send({"login_id": "bob", "wx_unionid": "un1", "device_id": "D1"}, event_id="app")
    oa = g.send({"wx_openid:wxoa": "o-oa", "wx_unionid": "un1"}, event_id="oa")
    assert mini == app == oa
    assert len(g.groups()) == 1
    assert g.merges == []


def test_login_before_the_anonymous_events_it_explains() -> None:
    g = MemoryGraph()
    login = g.send({"anonymous_id": "x", "login_id": "carol"}, event_id="late-login", time=20)
    early = g.send({"anonymous_id": "x"}, event_id="early-view", time=10)
    assert early == login


def test_two_users_merge_and_the_older_survives_whatever_the_order() -> None:
    def run(first_time: int, second_time: int) -> tuple[MemoryGraph, str, str, str]:
        g = MemoryGraph()
        h5 = g.send({"anonymous_id": "h5"}, event_id="a", time=first_time)
        app = g.send({"device_id": "dev", "login_id": "dan"}, event_id="b", time=second_time)
        joined = g.send({"anonymous_id": "h5", "login_id": "dan"}, event_id="c", time=30)
        return g, h5, app, joined

    g, h5, app, joined = run(10, 20)
    assert joined == h5  # older
    assert g.merges == [Merge(app, h5, "link")]
    assert g.user(PROJECT, app) == UserRecord(app, 20, g.version, merged_into=h5, merge_event="c")
    assert g.user(PROJECT, h5).aliases == (app,)  # type: ignore[union-attr]
    assert g.published[(PROJECT, Identity(USER_ID, app))].user_id == h5
    assert g.user_of("device_id", "dev") == h5

    g2, h5b, app_b, joined_b = run(20, 10)
    assert joined_b == app_b
    assert g2.merges == [Merge(h5b, app_b, "link")]
    assert g.groups() == g2.groups()


def test_shared_device_two_logins_make_two_users_and_a_conflict() -> None:
    g = MemoryGraph()
    first = g.send({"anonymous_id": "ipad", "login_id": "mum"}, event_id="l1")
    result = g.decide({"anonymous_id": "ipad", "login_id": "kid"}, event_id="l2")
    g.store(result)
    assert result.outcome == "conflict"
    second = result.user_id
    assert second != first
    assert g.user_of("login_id", "kid") == second
    assert g.user_of("anonymous_id", "ipad") == first  # the lower-priority id stays
    [conflict] = g.conflicts
    assert conflict.identity == Identity("login_id", "kid")
    assert (conflict.user_id, conflict.other_user_id, conflict.reason) == (
        second,
        first,
        "limit:login_id",
    )
    assert g.fast({"anonymous_id": "ipad"}) == first


def test_two_logged_in_users_never_merge() -> None:
    g = MemoryGraph()
    u1 = g.send({"login_id": "eve", "wx_openid:wx1": "o1"}, event_id="1")
    u2 = g.send({"login_id": "fay", "wx_unionid": "un2"}, event_id="2")
    result = g.decide({"wx_openid:wx1": "o1", "wx_unionid": "un2"}, event_id="3")
    g.store(result)
    assert result.user_id == u2  # the unionid outranks the openid
    assert result.merges == ()
    assert [(c.identity.key, c.user_id, c.other_user_id, c.reason) for c in g.conflicts] == [
        ("wx_openid:wx1", u1, u2, "identified")
    ]


def test_identified_users_do_not_merge_even_without_limits() -> None:
    unlimited_login = IdentityType("login_id", 100, identified=True)
    rules = replace(DEFAULT_RULES, types={**DEFAULT_RULES.types, "login_id": unlimited_login})
    g = MemoryGraph(rules=rules)
    a = g.send({"login_id": "a", "anonymous_id": "x"})
    b = g.send({"login_id": "b", "anonymous_id": "y"})
    assert g.send({"anonymous_id": "x", "device_id": "d"}) == a
    result = g.decide({"device_id": "d", "anonymous_id": "y"})
    assert result.user_id == a
    assert [(c.user_id, c.other_user_id, c.reason) for c in result.conflicts] == [
        (b, a, "identified")
    ]


def test_limit_per_namespace_allows_one_openid_per_appid() -> None:
    g = MemoryGraph()
    user = g.send({"login_id": "gus", "wx_openid:wx1": "o1"})
    assert g.send({"login_id": "gus", "wx_openid:wx2": "o2"}) == user
    result = g.decide({"login_id": "gus", "wx_openid:wx1": "other"})
    g.store(result)
    assert result.user_id == user
    [conflict] = result.conflicts
    assert conflict.reason == "limit:wx_openid:wx1"
    assert g.user_of("wx_openid:wx1", "other") == conflict.user_id != user


def test_merge_refused_when_the_union_breaks_a_limit() -> None:
    g = MemoryGraph()
    a = g.send({"mobile": "13800000001", "anonymous_id": "a"})
    b = g.send({"mobile": "13800000002", "anonymous_id": "b"})
    result = g.decide({"anonymous_id": "a", "cookie_id": "c"})
    g.store(result)
    result = g.decide({"cookie_id": "c", "anonymous_id": "b"})
    assert result.user_id == a
    assert [(c.user_id, c.other_user_id, c.reason) for c in result.conflicts] == [
        (b, a, "limit:mobile")
    ]


def test_merge_chains_are_followed_and_stale_assignments_rewritten() -> None:
    g = MemoryGraph()
    a = g.send({"anonymous_id": "a"}, time=3)
    b = g.send({"anonymous_id": "b"}, time=2)
    c = g.send({"anonymous_id": "c"}, time=1)
    g.send({"anonymous_id": "a", "cookie_id": "ab"}, event_id="1")
    g.send({"cookie_id": "ab", "anonymous_id": "b"}, event_id="2")
    assert g.user_of("anonymous_id", "a") == b
    g.send({"anonymous_id": "b", "device_id": "bc"}, event_id="3")
    g.send({"device_id": "bc", "anonymous_id": "c"}, event_id="4")
    assert g.user(PROJECT, c).aliases == tuple(sorted((a, b)))  # type: ignore[union-attr]
    # An assignment left pointing at a merged user (a run cut short) is followed.
    g.owners[(PROJECT, Identity("anonymous_id", "a"))] = a
    result = g.decide({"anonymous_id": "a"}, event_id="5")
    assert result.user_id == c
    assert [(o.identity.value, o.user_id) for o in result.owners] == [("a", c)]
    assert g.fast({"anonymous_id": "a"}) == a  # the fast path trusts the stored map


def test_a_taken_user_id_moves_to_the_next_attempt() -> None:
    g = MemoryGraph()
    user = g.send({"anonymous_id": "x"}, event_id="1")
    g.send({"anonymous_id": "x"}, event_id="2", event_type="track_id_unbind")
    again = g.send({"anonymous_id": "x"}, event_id="3")
    assert again == new_user_id(PROJECT, Identity("anonymous_id", "x"), 1) != user
    merged = g.send({"anonymous_id": "y"}, event_id="4", time=-1)
    g.send({"anonymous_id": "y", "cookie_id": "c"}, event_id="5")
    g.send({"cookie_id": "c", "anonymous_id": "x"}, event_id="6")
    assert g.user(PROJECT, again).merged_into == merged  # type: ignore[union-attr]


def test_unbind_removes_an_identity_from_its_user() -> None:
    g = MemoryGraph()
    user = g.send({"anonymous_id": "x", "login_id": "ivy"})
    assert g.fast({"login_id": "ivy"}, event_type="track_id_unbind") is None
    result = g.decide({"login_id": "ivy"}, event_type="track_id_unbind", event_id="u")
    g.store(result)
    assert (result.user_id, result.outcome) == (user, "unbound")
    assert g.user_of("login_id", "ivy") is None
    assert g.user(PROJECT, user).identities == (Identity("anonymous_id", "x"),)  # type: ignore[union-attr]
    assert [(a.identity.value, a.user_id) for a in result.published] == [("ivy", None)]
    assert g.send({"login_id": "ivy"}) != user


def test_unbind_of_an_unknown_identity_is_an_orphan() -> None:
    g = MemoryGraph()
    result = g.decide({"login_id": "nobody"}, event_type="track_id_unbind", event_id="u")
    assert result.user_id == orphan_user_id(PROJECT, "u")
    assert [(a.identity.value, a.user_id) for a in result.published] == [("nobody", None)]


@pytest.mark.parametrize(
    "identities",
    [
        pytest.param({}, id="none"),
        pytest.param({"anonymous_id": "undefined", "login_id": " null "}, id="junk"),
        pytest.param({"custom_id": "42"}, id="unknown-type"),
        pytest.param({"user_id": "u123"}, id="reserved"),
    ],
)
def test_events_without_usable_identities_are_orphans(identities: dict[str, str]) -> None:
    g = MemoryGraph()
    assert g.fast(identities) == orphan_user_id(PROJECT, "fast")
    result = g.decide(identities, event_id="o")
    assert (result.user_id, result.outcome) == (orphan_user_id(PROJECT, "o"), "orphan")
    g.store(result)
    assert g.owners == {}


def test_junk_values_never_link_two_people() -> None:
    g = MemoryGraph()
    a = g.send({"anonymous_id": "a", "device_id": "00000000-0000-0000-0000-000000000000"})
    b = g.send({"anonymous_id": "b", "device_id": "00000000-0000-0000-0000-000000000000"})
    assert a != b


def test_two_values_of_one_limited_type_in_one_event() -> None:
    rules = replace(
        DEFAULT_RULES, types={**DEFAULT_RULES.types, "shop_id": IdentityType("shop_id", 5, limit=1)}
    )
    g = MemoryGraph(rules=rules)
    result = g.decide({"shop_id:a": "1", "shop_id:b": "2"}, event_id="e")
    g.store(result)
    assert result.outcome == "conflict"
    [conflict] = result.conflicts
    assert (conflict.identity, conflict.user_id, conflict.reason) == (
        Identity("shop_id:b", "2"),
        "",
        "limit:shop_id",
    )
    assert g.user_of("shop_id:b", "2") is None


def test_refused_identities_start_one_new_user_together() -> None:
    g = MemoryGraph()
    first = g.send({"anonymous_id": "x", "login_id": "a", "member_id": "m1"})
    result = g.decide({"anonymous_id": "x", "login_id": "b", "member_id": "m2"})
    g.store(result)
    assert result.user_id != first
    assert g.user_of("member_id", "m2") == g.user_of("login_id", "b") == result.user_id
    assert {c.identity.value for c in result.conflicts} == {"b", "m2"}


def test_projects_are_separate_graphs() -> None:
    g = MemoryGraph()
    a = g.send({"anonymous_id": "x"}, project="p1")
    b = g.send({"anonymous_id": "x"}, project="p2")
    assert a != b


def test_a_corrupted_merge_cycle_reads_as_unknown() -> None:
    g = MemoryGraph()
    g.owners[(PROJECT, Identity("anonymous_id", "x"))] = "u1"
    g.users[(PROJECT, "u1")] = UserRecord("u1", 0, 1, merged_into="u2")
    g.users[(PROJECT, "u2")] = UserRecord("u2", 0, 1, merged_into="u1")
    assert g.decide({"anonymous_id": "x"}).outcome == "created"


def test_a_merge_into_a_missing_user_reads_as_unknown() -> None:
    g = MemoryGraph()
    g.owners[(PROJECT, Identity("anonymous_id", "x"))] = "u1"
    g.users[(PROJECT, "u1")] = UserRecord("u1", 0, 1, merged_into="gone", merge_event="e")
    result = g.decide({"anonymous_id": "x"}, event_id="e")
    assert result.user_id == new_user_id(PROJECT, Identity("anonymous_id", "x"))
    assert result.merges == (Merge("u1", "gone", "link"),)


def test_link_with_no_identities_is_an_orphan() -> None:
    g = MemoryGraph()
    result = link(
        DEFAULT_RULES,
        g,
        project=PROJECT,
        event_id="z",
        event_type="track",
        identities=[],
        time=0,
        version=1,
    )
    assert result.outcome == "orphan"


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            UserRecord(
                "u1",
                5,
                7,
                identities=(Identity("anonymous_id", "a"), Identity("anonymous_id", "b")),
                aliases=("u0",),
            ),
            id="live",
        ),
        pytest.param(UserRecord("u1", 5, 7, identities=(Identity("login_id", "l"),)), id="plain"),
        pytest.param(UserRecord("u1", 5, 7, merged_into="u2", merge_event="e"), id="merged"),
    ],
)
def test_user_records_round_trip_through_their_stored_form(record: UserRecord) -> None:
    assert user_from_doc("u1", user_to_doc(record)) == record


def test_identities_by_type_groups_and_sorts() -> None:
    ids = [Identity("anonymous_id", "b"), Identity("login_id", "l"), Identity("anonymous_id", "a")]
    assert identities_by_type(ids) == {"anonymous_id": ["a", "b"], "login_id": ["l"]}
