"""Identity map and conflict records survive their Avro encoding."""

from __future__ import annotations

from schemas.identity_records import (
    IdentityAssignment,
    IdentityConflict,
    assignment_key,
    decode_assignment,
    decode_conflict,
    encode_assignment,
    encode_conflict,
)


def test_assignments_round_trip() -> None:
    for user in ("u1", None):
        a = IdentityAssignment("default", "wx_openid:wx1", "o1", user, 7, 1_764_000_000_000, "e1")
        assert decode_assignment(encode_assignment(a)) == a


def test_conflicts_round_trip() -> None:
    c = IdentityConflict("default", "e1", 5, "login_id", "kid", "u2", "u1", "limit:login_id")
    assert decode_conflict(encode_conflict(c)) == c


def test_assignment_keys_name_one_identity() -> None:
    assert assignment_key("p", "login_id", "a") != assignment_key("p", "login_id", "b")
    assert assignment_key("p", "login_id", "a") == b"p\x1flogin_id\x1fa"
