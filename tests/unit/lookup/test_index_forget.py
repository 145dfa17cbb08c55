"""The lookup view forgets a user and every identity it holds, and only that user."""

from __future__ import annotations

from lookup.feed import Feed
from lookup.index import IdentityIndex, TagIndex, view
from lookup.segment_index import PropertyIndex, SegmentIndex
from schemas.identity_records import IdentityAssignment
from schemas.privacy_records import PrivacyForget, encode_forget
from schemas.segment_records import SegmentChanges, UserProperties, encode_segment_changes
from schemas.tag_records import TagChanges
from siyu.settings import Settings
from streams.domain.segments import SegmentChange
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


def test_forget_drops_properties_and_segment_memberships() -> None:
    props, segs = PropertyIndex(), SegmentIndex()
    props.apply(UserProperties("shop", "u1", {"city": "Shenzhen"}, 5, "e1"))
    props.apply(UserProperties("shop", "u2", {"city": "Hangzhou"}, 5, "e2"))
    for user in ("u1", "u2", "u3"):
        segs.apply(SegmentChanges("shop", user, (SegmentChange(user, "vip", "enter", 5, "e"),)))
    segs.apply(SegmentChanges("shop", "u1", (SegmentChange("u1", "new", "enter", 6, "e"),)))
    props.forget("shop", "u1")
    segs.forget("shop", "u1")
    assert props.get("shop", "u1") == ({}, 0)
    assert props.get("shop", "u2") == ({"city": "Hangzhou"}, 5)
    assert segs.segments_of("shop", "u1") == []
    assert segs.page("shop", "vip", "", 10) == ["u2", "u3"]
    assert segs.count("shop", "new") == 0


def test_a_replayed_segment_change_does_not_bring_a_forgotten_user_back() -> None:
    """A lookup restart replays segments.changes from the beginning, and privacy.forget with
    it, in any order between the two topics: the forgotten user stays out either way."""
    settings = Settings()
    enter = SegmentChanges("shop", "u1", (SegmentChange("u1", "vip", "enter", 5, "e"),))
    other = SegmentChanges("shop", "u2", (SegmentChange("u2", "vip", "enter", 5, "e"),))
    forget = encode_forget(PrivacyForget("r1", "shop", "u1", (), ()))
    for forget_first in (True, False):
        feed = Feed(settings, IdentityIndex(), TagIndex())
        if forget_first:
            feed._apply(feed.forget_topic, forget)
        for record in (enter, other):
            feed._apply(feed.segments_topic, encode_segment_changes(*_fields(record)))
        if not forget_first:
            feed._apply(feed.forget_topic, forget)
        # The replay again, after the forget.
        feed._apply(feed.segments_topic, encode_segment_changes(*_fields(enter)))
        assert feed.segments.page("shop", "vip", "", 10) == ["u2"]
        assert feed.segments.segments_of("shop", "u1") == []
    # Only that user of that project.
    segs = SegmentIndex()
    segs.forget("shop", "u1")
    segs.apply(SegmentChanges("club", "u1", (SegmentChange("u1", "vip", "enter", 5, "e"),)))
    assert segs.segments_of("club", "u1") == ["vip"]


def _fields(record: SegmentChanges) -> tuple[str, str, list[SegmentChange]]:
    return record.project, record.user_id, list(record.changes)
