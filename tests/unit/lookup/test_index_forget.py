"""The lookup view forgets a user and every identity it holds, and only that user."""

from __future__ import annotations

from lookup.index import IdentityIndex, TagIndex, view
from schemas.identity_records import IdentityAssignment
from schemas.tag_records import TagChanges
from streams.domain.tag_definitions import TagChange


def _a(
    project: str, id_type: str, value: str, user: str | None, version: int
) -> IdentityAssignment:
    return IdentityAssignment(project, id_type, value, user, version, time=version)


def test_forget_drops_the_user_and_its_identities() -> None:
    ids, tags = IdentityIndex(), TagIndex()
    for a in (
        _a("shop", "login_id", "alice", "u1", 1),
        _a("shop", "anonymous_id", "dev-1", "u1", 2),
        _a("shop", "user_id", "u1", "u1", 1),
        _a("shop", "anonymous_id", "dev-2", "u2", 3),
        _a("club", "login_id", "alice", "u1", 1),
    ):
        ids.apply(a)
    tags.apply(TagChanges("shop", "u1", (TagChange("u1", "vip", None, True, 5, "e1"),)))
    dropped = ids.forget("shop", "u1")
    tags.forget("shop", "u1")
    assert sorted(dropped) == [("anonymous_id", "dev-1"), ("login_id", "alice"), ("user_id", "u1")]
    assert ids.resolve("shop", "login_id", "alice") is None
    assert ids.resolve("shop", "anonymous_id", "dev-1") is None
    assert view(ids, tags, "shop", "u1") is None
    assert tags.tags("shop", "u1") == ({}, 0)
    # Another user and the same ids in another project stay.
    assert ids.resolve("shop", "anonymous_id", "dev-2") == "u2"
    assert ids.resolve("club", "login_id", "alice") == "u1"
    # A later unbinding (the forget's identity.map records) keeps them unknown.
    assert ids.apply(_a("shop", "login_id", "alice", None, 10))
    assert ids.resolve("shop", "login_id", "alice") is None
