"""identity.map / merges / conflicts records become identity table rows."""

from __future__ import annotations

import pytest

from schemas.identity_records import (
    IdentityAssignment,
    IdentityConflict,
    encode_assignment,
    encode_conflict,
)
from schemas.merge_records import IdentityMerge, encode_merge
from sinks.route import Record
from sinks.routes.identity import (
    IDENTITY_CONFLICTS,
    IDENTITY_MAP,
    IDENTITY_MERGES,
    assignment_rows,
    conflict_rows,
    merge_rows,
)


def _record(value: bytes | None) -> Record:
    return Record("siyu.identity.map", 0, 7, None, value, 0)


def test_assignments_and_unbinds() -> None:
    bound = IdentityAssignment("p", "login_id", "l", "u1", 5, 1000, "e1")
    [(table, row)] = assignment_rows(_record(encode_assignment(bound)))
    assert table is IDENTITY_MAP
    assert row == ("p", "login_id", "l", "u1", 5, 0, 1000, "e1")
    unbound = IdentityAssignment("p", "login_id", "l", None, 6, 1001, "e2")
    [(_, row)] = assignment_rows(_record(encode_assignment(unbound)))
    assert row[3:6] == ("", 6, 1)


def test_merges_and_conflicts() -> None:
    merge = IdentityMerge("p", "u2", "u1", 5, "e", "link")
    assert list(merge_rows(_record(encode_merge(merge)))) == [
        (IDENTITY_MERGES, ("p", "u2", "u1", 5, "e", "link"))
    ]
    conflict = IdentityConflict("p", "e", 5, "login_id", "kid", "u2", "u1", "limit:login_id")
    assert list(conflict_rows(_record(encode_conflict(conflict)))) == [
        (IDENTITY_CONFLICTS, ("p", "e", 5, "login_id", "kid", "u2", "u1", "limit:login_id"))
    ]


def test_an_empty_record_is_refused() -> None:
    with pytest.raises(ValueError, match="empty record"):
        list(assignment_rows(_record(None)))
