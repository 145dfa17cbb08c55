from __future__ import annotations

from streams.domain.events import EVENT_TYPES, TrackEvent


def test_with_user_sets_the_user_and_keeps_the_rest() -> None:
    e = TrackEvent("e1", "track", "view", 1, "h5", {"anonymous_id": "a"}, {"p": 1})
    stitched = e.with_user("u9")
    assert stitched.user_id == "u9"
    assert e.user_id is None
    assert (stitched.event_id, stitched.identities, stitched.properties) == (
        "e1",
        {"anonymous_id": "a"},
        {"p": 1},
    )
    assert "profile_set" in EVENT_TYPES
