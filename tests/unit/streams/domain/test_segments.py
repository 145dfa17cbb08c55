from __future__ import annotations

import pytest

from streams.domain.segments import (
    SegmentChange,
    SegmentError,
    SegmentSet,
    compile_segment,
    evaluate_segments,
    membership_changes,
)


def test_invalid_cel_reports_the_position() -> None:
    with pytest.raises(SegmentError) as found:
        compile_segment("broken", 'tags.orders >\n  && "x"')
    assert (found.value.line, found.value.column) == (2, 3)
    assert "invalid CEL at 2:3" in str(found.value)


def test_unknown_variables_and_bad_names_are_refused() -> None:
    with pytest.raises(SegmentError, match="unknown variable"):
        compile_segment("s", "orders > 1")
    with pytest.raises(SegmentError, match="lower case"):
        compile_segment("Bad Name", "true")


def test_evaluation_over_tags_and_properties() -> None:
    defs = (
        compile_segment("payers", '"paying" in tags && tags.paying'),
        compile_segment("vip", 'has(properties.level) && properties.level == "vip"'),
        compile_segment("strict", "tags.orders >= 2"),  # fails when the tag is absent
        compile_segment("number", "tags.orders + 1"),  # not a bool
        compile_segment("recent", "now - tags.last_seen < 1000"),
    )
    members, errors = evaluate_segments(defs, {"paying": True, "last_seen": 9500}, {}, 10_000)
    assert members == ["payers", "recent"]
    assert {name for name, _ in errors} == {"strict", "number"}
    members, errors = evaluate_segments(
        defs, {"orders": 3, "last_seen": 0}, {"level": "vip"}, 10_000
    )
    assert members == ["strict", "vip"]
    assert [n for n, _ in errors] == ["number"]


def test_membership_changes_exits_then_enters() -> None:
    changes = membership_changes("u", ["a", "b"], ["b", "c", "d"], 5, "ev1")
    assert changes == [
        SegmentChange("u", "a", "exit", 5, "ev1"),
        SegmentChange("u", "c", "enter", 5, "ev1"),
        SegmentChange("u", "d", "enter", 5, "ev1"),
    ]


def test_segment_set_per_project_and_runtime_overrides() -> None:
    everywhere = compile_segment("a", "true")
    only_p1 = compile_segment("b", "true", projects=["p1"])
    segs = SegmentSet(shipped=(everywhere, only_p1))
    assert [d.name for d in segs.for_project("p1")] == ["a", "b"]
    assert [d.name for d in segs.for_project("p2")] == ["a"]
    replaced = compile_segment("a", "false")
    edited = segs.with_runtime("p2", replaced, "a")
    assert edited.for_project("p2")[0].expression == "false"
    assert edited.for_project("p1")[0].expression == "true"
    assert edited.fingerprint() != segs.fingerprint()
    assert edited.with_runtime("p2", None, "a").for_project("p2")[0].expression == "true"
    assert segs.with_shipped(()).for_project("p1") == ()
