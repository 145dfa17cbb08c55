"""Identity rules: normalization per type, junk values, configuration."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from streams.domain.identity_rules import (
    DEFAULT_RULES,
    Identity,
    IdentityType,
    RulesError,
    rules_from_mapping,
)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        pytest.param("anonymous_id", " ABC-def ", Identity("anonymous_id", "abc-def"), id="lower"),
        pytest.param("device_id", "IDFA-1", Identity("device_id", "idfa-1"), id="device-lower"),
        pytest.param("cookie_id", " Ck ", Identity("cookie_id", "Ck"), id="trim-only"),
        pytest.param("login_id", "Alice", Identity("login_id", "Alice"), id="login-case-kept"),
        pytest.param(
            " wx_openid:wx1 ", "oAbC", Identity("wx_openid:wx1", "oAbC"), id="openid-namespace"
        ),
        pytest.param("mobile", "138 0013 8000", Identity("mobile", "13800138000"), id="spaces"),
        pytest.param("mobile", "+86-138-0013-8000", Identity("mobile", "13800138000"), id="+86"),
        pytest.param("mobile", "008613800138000", Identity("mobile", "13800138000"), id="0086"),
        pytest.param("mobile", "8613800138000", Identity("mobile", "13800138000"), id="86"),
        pytest.param("mobile", "+44 20 7946 0958", Identity("mobile", "+442079460958"), id="intl"),
        pytest.param("mobile", "A" * 64, Identity("mobile", "a" * 64), id="already-hashed"),
        pytest.param("mobile", "12345", None, id="not-a-mobile"),
        pytest.param("mobile", "23800138000", None, id="bad-prefix"),
        pytest.param("anonymous_id", "undefined", None, id="junk"),
        pytest.param("anonymous_id", " NULL ", None, id="junk-case"),
        pytest.param("device_id", "00000000-0000-0000-0000-000000000000", None, id="zero-idfa"),
        pytest.param("anonymous_id", "[object Object]", None, id="js-object"),
        pytest.param("anonymous_id", "x" * 257, None, id="too-long"),
        pytest.param("custom", "v", None, id="unknown-type"),
        pytest.param("user_id", "u1", None, id="reserved"),
    ],
)
def test_normalize(key: str, value: str, expected: Identity | None) -> None:
    assert DEFAULT_RULES.normalize(key, value) == expected


def test_non_string_values_are_not_identities() -> None:
    assert DEFAULT_RULES.normalize("anonymous_id", 42) is None  # type: ignore[arg-type]


def test_mobile_hashing_with_a_salt() -> None:
    rules = rules_from_mapping({"types": {"mobile": {"hash": "sha256", "salt": "s1"}}})
    expected = hashlib.sha256(b"s113800138000").hexdigest()
    assert rules.normalize("mobile", "+86 13800138000") == Identity("mobile", expected)
    # An already hashed value is kept, so clients may hash before sending.
    assert rules.normalize("mobile", expected.upper()) == Identity("mobile", expected)


def test_normalize_all_orders_by_priority_and_drops_junk() -> None:
    found = DEFAULT_RULES.normalize_all(
        {
            "anonymous_id": "a",
            "wx_openid:wx2": "o2",
            "login_id": "l",
            "wx_openid:wx1": "o1",
            "cookie_id": "0",
        }
    )
    assert [i.key for i in found] == ["login_id", "wx_openid:wx1", "wx_openid:wx2", "anonymous_id"]


def test_rule_lookups() -> None:
    openid = Identity("wx_openid:wx1", "o")
    assert DEFAULT_RULES.scope(openid) == "wx_openid:wx1"
    assert DEFAULT_RULES.scope(Identity("login_id", "l")) == "login_id"
    assert DEFAULT_RULES.limit(openid) == 1
    assert DEFAULT_RULES.limit(Identity("anonymous_id", "a")) is None
    assert DEFAULT_RULES.limit(Identity("nope", "a")) is None
    assert DEFAULT_RULES.priority(Identity("nope", "a")) == 0
    assert DEFAULT_RULES.identified(Identity("login_id", "l"))
    assert not DEFAULT_RULES.identified(Identity("nope", "l"))
    assert DEFAULT_RULES.scope(Identity("nope", "l")) == "nope"
    assert openid.type == "wx_openid"


def test_rules_from_a_document() -> None:
    rules = rules_from_mapping(
        {
            "types": {
                "login_id": {"normalize": "lower"},
                "email": {"priority": 85, "limit": 1, "normalize": "lower"},
                "cookie_id": {"enabled": False},
                "member_id": {"limit": 0},
            },
            "extra_junk_values": ["Guest"],
            "max_value_length": 64,
        }
    )
    assert rules.normalize("login_id", "Bob") == Identity("login_id", "bob")
    assert rules.normalize("email", "A@B.CN") == Identity("email", "a@b.cn")
    assert rules.normalize("cookie_id", "c") is None
    assert rules.limit(Identity("member_id", "m")) is None
    assert rules.normalize("anonymous_id", "guest") is None
    assert rules.normalize("anonymous_id", "undefined") is None
    assert rules.normalize("anonymous_id", "x" * 65) is None
    replaced = rules_from_mapping({"junk_values": ["nobody"]})
    assert replaced.normalize("anonymous_id", "undefined") == Identity("anonymous_id", "undefined")
    assert replaced.normalize("anonymous_id", "nobody") is None


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        pytest.param({"colour": 1}, "unknown identity rule settings", id="unknown-key"),
        pytest.param({"types": {"x": 1}}, "must be a table", id="not-a-table"),
        pytest.param({"types": {"login_id": {"weight": 1}}}, "unknown fields", id="bad-field"),
        pytest.param({"types": {"email": {"limit": 1}}}, "needs a priority", id="no-priority"),
        pytest.param({"max_value_length": 0}, "max_value_length", id="bad-length"),
        pytest.param({"types": {"x": {"priority": "high"}}}, "integer", id="bad-priority"),
        pytest.param({"types": {"x": {"priority": 1, "limit": -1}}}, "limit", id="bad-limit"),
        pytest.param({"types": {"x": {"priority": 1, "normalize": "up"}}}, "normalizer", id="norm"),
        pytest.param({"types": {"x": {"priority": 1, "hash": "md5"}}}, "hash", id="bad-hash"),
        pytest.param({"types": {"user_id": {"priority": 1}}}, "cannot be", id="reserved"),
    ],
)
def test_bad_documents_are_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(RulesError, match=message):
        rules_from_mapping(doc)


def test_type_names_cannot_hold_a_namespace() -> None:
    with pytest.raises(RulesError):
        IdentityType("a:b", 1)
