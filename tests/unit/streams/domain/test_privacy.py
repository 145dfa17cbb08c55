"""Later events of a forgotten person: dropped, or stored without their identities."""

from __future__ import annotations

from typing import Any

from streams.domain.identity_rules import DEFAULT_RULES
from streams.domain.privacy import screen, suppression_key, suppression_keys


def _event(event_id: str, **identities: str) -> dict[str, Any]:
    return {"event_id": event_id, "identities": identities}


def test_suppression_keys_cover_the_identity_as_sent_and_normalized() -> None:
    keys = suppression_keys(DEFAULT_RULES, "shop", "anonymous_id", "ABC")
    assert keys == {
        suppression_key("shop", "anonymous_id", "ABC"),
        suppression_key("shop", "anonymous_id", "abc"),
    }
    # Unknown types keep only the key as sent; keys differ per project; no clear text.
    assert suppression_keys(DEFAULT_RULES, "shop", "no_such_type", "x") == {
        suppression_key("shop", "no_such_type", "x")
    }
    assert suppression_key("a", "t", "v") != suppression_key("b", "t", "v")
    assert "abc" not in suppression_key("shop", "anonymous_id", "abc")


def test_drop_removes_events_with_a_forgotten_identity() -> None:
    gone = suppression_key("shop", "anonymous_id", "abc")
    events = [_event("1", anonymous_id="ABC"), _event("2", anonymous_id="other"), _event("3")]
    kept, hit = screen(DEFAULT_RULES, "shop", events, {gone}.__contains__, "drop")
    assert [e["event_id"] for e in kept] == ["2", "3"]
    assert hit == 1
    # Another project's same identity is not suppressed.
    kept, hit = screen(DEFAULT_RULES, "club", events, {gone}.__contains__, "drop")
    assert (len(kept), hit) == (3, 0)


def test_anonymise_keeps_events_without_the_forgotten_identities() -> None:
    gone = {
        suppression_key("shop", "anonymous_id", "abc"),
        suppression_key("shop", "login_id", "alice"),
    }
    events = [
        _event("1", anonymous_id="abc", login_id="bob"),
        _event("2", anonymous_id="abc", login_id="alice"),
    ]
    kept, hit = screen(DEFAULT_RULES, "shop", events, gone.__contains__, "anonymise")
    assert hit == 2
    assert kept[0]["identities"] == {"login_id": "bob"}
    (only,) = kept[1]["identities"].items()
    assert only[0] == "anonymous_id"
    assert only[1].startswith("forgotten-")
    assert "abc" not in only[1]
    assert events[0]["identities"] == {"anonymous_id": "abc", "login_id": "bob"}
