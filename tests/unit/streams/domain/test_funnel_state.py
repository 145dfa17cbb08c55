"""The stored per-user and per-sharer documents the agents read and write."""

from __future__ import annotations

import copy

from streams.domain import funnel_state as fs
from streams.domain.identity_rules import DEFAULT_RULES, Identity
from tests.unit.streams.domain.funnel_factories import (
    COMMERCE_SPEC,
    FISSION_SPEC,
    T0,
    ev,
    funnels,
)

SPEC = copy.deepcopy(COMMERCE_SPEC)
SPEC["funnels"].update(FISSION_SPEC["funnels"])
SPEC["fission"] = FISSION_SPEC["fission"]
DEFS = funnels(SPEC)


def test_sharer_candidates_put_the_events_own_namespaces_first() -> None:
    e = ev("x", T0, identities={"wx_openid:wx1": "o1", "login_id": "m1"})
    candidates = fs.sharer_candidates(e)
    assert candidates[0] == "wx_openid:wx1"
    assert candidates.count("login_id") == 1


def test_sharer_identities_are_normalized_as_the_graph_stores_them() -> None:
    e = ev("x", T0, identities={"wx_openid:wx1": "o1"})
    found = fs.sharer_identities(DEFAULT_RULES, e, " oAnon-ABC ")
    assert found[0] == Identity("wx_openid:wx1", "oAnon-ABC")
    assert Identity("anonymous_id", "oanon-abc") in found
    assert Identity("login_id", "oAnon-ABC") in found
    assert len(found) == len(set(found))
    assert fs.sharer_identities(DEFAULT_RULES, e, "undefined") == []


def test_apply_events_runs_every_funnel_and_the_attribution() -> None:
    visit = ev("$MPViewScreen", T0, user="b", context={"share": {"sharer": "o-a"}})
    doc, steps, signals = fs.apply_events(DEFS, None, "b", [visit], {"o-a": "a"})
    assert {s.funnel for s in steps} == {"shop"}
    assert [(s.to, s.kind, s.step) for s in signals] == [("a", "invitee", 2)]
    assert doc["a"] is not None
    doc, steps, signals = fs.apply_events(DEFS, doc, "b", [ev("login", T0 + 1, user="b")], {})
    assert steps == []
    assert signals == []
    plain, _, _ = fs.apply_events(funnels(COMMERCE_SPEC), None, "c", [ev("login", T0)], {})
    assert plain == {"f": {}, "a": None}


def test_merging_user_documents_reports_union_steps() -> None:
    a, _, _ = fs.apply_events(DEFS, None, "a", [ev("$pageview", T0)], {})
    b, _, _ = fs.apply_events(
        DEFS, None, "b", [ev("view_product", T0 + 1, context={"share": {"sharer": "o-x"}})], {}
    )
    merged = fs.merge_user_docs(a, b)
    merged, steps = fs.settle_user(DEFS, merged)
    assert [s.step for s in steps if s.dimension == ""] == [2]
    assert fs.merge_user_docs(None, a) == a
    assert fs.merge_user_docs(None, None) == {"f": {}, "a": None}
    settled, steps = fs.settle_user(DEFS, {"f": {}, "a": None})
    assert steps == []
    assert settled == {"f": {}, "a": None}


def test_sharer_documents() -> None:
    share = ev("share", T0, user="a")
    _, _, signals = fs.apply_events(DEFS, None, "a", [share], {})
    doc, out = fs.apply_signals(DEFS, None, "a", signals)
    assert doc is not None
    assert [c.step for c in out.completions if c.dimension == ""] == [1]
    other, _ = fs.apply_signals(DEFS, None, "a2", [])
    merged = fs.merge_sharer_docs(doc, other)
    settled, out = fs.settle_sharer(DEFS, merged, "a")
    assert settled is not None
    assert out.completions == []
    assert fs.merge_sharer_docs(None, None) == fs.merge_sharer_docs({}, {})
    no_fission = funnels(COMMERCE_SPEC)
    assert fs.apply_signals(no_fission, {"x": 1}, "a", signals)[0] == {"x": 1}
