from __future__ import annotations

import pytest

from schemas.codec import codec
from schemas.tag_records import decode_tag_changes, encode_tag_changes
from streams.domain.tag_definitions import TagChange, TagValue


def _codec_bytes(project: str, user: str, changes: list[TagChange]) -> bytes:
    return codec("tag_change").encode(
        {
            "project": project,
            "user_id": user,
            "changes": [
                {"tag": c.tag, "old": c.old, "new": c.new, "at": c.at, "cause": c.cause}
                for c in changes
            ],
        }
    )


VALUES: list[TagValue | None] = [
    None, True, False, 0, 1, -1, 63, 64, -65, 2**40, -(2**62), 1.5, -0.25, "", "silent", "中文",
]  # fmt: skip


@pytest.mark.parametrize("value", [pytest.param(v, id=repr(v)) for v in VALUES])
def test_fast_writer_is_byte_identical_to_the_codec(value: TagValue | None) -> None:
    changes = [
        TagChange("u1", "tag:x", value, None, 1_764_000_000_000, "ev-1"),
        TagChange("u1", "lifecycle", "new", value, 0, "timer"),
    ]
    assert encode_tag_changes("p", "用户", changes) == _codec_bytes("p", "用户", changes)
    decoded = decode_tag_changes(encode_tag_changes("p", "u1", changes))
    assert decoded.changes[0].old == value
    assert type(decoded.changes[0].old) is type(value)


def test_no_changes() -> None:
    assert encode_tag_changes("p", "u", []) == _codec_bytes("p", "u", [])


def test_changes_with_shared_and_empty_causes() -> None:
    changes = [
        TagChange("u", "a", None, 1, 5, ""),
        TagChange("u", "b", None, 2, 5, ""),
        TagChange("u", "c", 1, None, 6, "merge"),
        TagChange("v", "d", None, "x", 6, "merge"),
    ]
    assert encode_tag_changes("p", "u", changes) == _codec_bytes("p", "u", changes)
