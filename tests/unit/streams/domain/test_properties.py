from __future__ import annotations

from typing import Any

import pytest

from streams.domain.properties import (
    apply_operation,
    merge_properties,
    new_properties,
    property_values,
)


def _doc(*ops: tuple[str, dict[str, Any], int]) -> dict[str, Any]:
    doc = new_properties()
    for kind, values, at in ops:
        assert apply_operation(doc, kind, values, at) is None
    return doc


def test_set_keeps_the_latest_write_by_event_time() -> None:
    doc = _doc(("profile_set", {"city": "Shanghai"}, 20), ("profile_set", {"city": "Beijing"}, 10))
    assert property_values(doc) == {"city": "Shanghai"}
    apply_operation(doc, "profile_set", {"city": "Hangzhou", "vip": True}, 30)
    assert property_values(doc) == {"city": "Hangzhou", "vip": True}


def test_set_once_writes_only_absent_keys() -> None:
    doc = _doc(
        ("profile_set_once", {"first_channel": "qr"}, 10),
        ("profile_set_once", {"first_channel": "ads", "gender": "f"}, 5),
    )
    assert property_values(doc) == {"first_channel": "qr", "gender": "f"}


def test_increment_adds_and_append_unites_in_order() -> None:
    doc = _doc(
        ("profile_increment", {"points": 10}, 1),
        ("profile_increment", {"points": 2.5}, 2),
        ("profile_append", {"labels": ["a", "b"]}, 3),
        ("profile_append", {"labels": "c"}, 4),
        ("profile_append", {"labels": ["b", "d", "d"]}, 5),
    )
    assert property_values(doc) == {"points": 12.5, "labels": ["a", "b", "c", "d"]}


def test_unset_and_delete() -> None:
    doc = _doc(("profile_set", {"a": 1, "b": 2}, 1), ("profile_unset", {"a": None}, 2))
    assert property_values(doc) == {"b": 2}
    assert apply_operation(doc, "profile_unset", [], 3) is None  # type: ignore[arg-type]
    assert apply_operation(doc, "profile_delete", {}, 4) is None
    assert property_values(doc) == {}
    assert doc["meta"] == {}


@pytest.mark.parametrize(
    ("held", "kind", "values", "reason"),
    [
        pytest.param({"name": "x"}, "profile_increment", {"name": 1}, "cannot increment a str",
                     id="increment-string"),
        pytest.param({}, "profile_increment", {"n": "1"}, "needs a number", id="increment-by-text"),
        pytest.param({}, "profile_increment", {"n": True}, "needs a number", id="increment-bool"),
        pytest.param({"n": 1}, "profile_append", {"n": "a"}, "cannot append to a int",
                     id="append-to-number"),
        pytest.param({}, "profile_append", {"l": [1]}, "string or a list of strings",
                     id="append-numbers"),
        pytest.param({}, "profile_set", {"o": {"a": 1}}, "must be a string", id="set-object"),
        pytest.param({}, "profile_set_once", {"o": [1, 2]}, "must be a string", id="once-list"),
    ],
)  # fmt: skip
def test_wrong_type_rejects_the_whole_event(
    held: dict[str, Any], kind: str, values: dict[str, Any], reason: str
) -> None:
    doc = _doc(("profile_set", held, 1)) if held else new_properties()
    before = property_values(doc)
    found = apply_operation(
        doc, kind, {**values, "other": 5} if kind != "profile_set" else values, 9
    )
    assert found is not None
    assert reason in found
    assert property_values(doc) == before


def test_set_accepts_scalars_lists_and_null() -> None:
    doc = _doc(("profile_set", {"a": None, "b": ["x"], "c": 1.5, "d": "t"}, 1))
    assert property_values(doc) == {"a": None, "b": ["x"], "c": 1.5, "d": "t"}


def test_property_values_of_nothing() -> None:
    assert property_values(None) == {}
    assert property_values({}) == {}


def test_merge_rules() -> None:
    survivor = _doc(
        ("profile_set", {"city": "Shanghai", "tier": "gold"}, 10),
        ("profile_set_once", {"first_channel": "qr"}, 50),
        ("profile_increment", {"points": 10}, 10),
        ("profile_append", {"labels": ["a", "b"]}, 10),
        ("profile_set", {"only_survivor": 1}, 10),
    )
    loser = _doc(
        ("profile_set", {"city": "Beijing", "tier": "silver"}, 20),
        ("profile_set_once", {"first_channel": "ads"}, 5),
        ("profile_increment", {"points": 7}, 30),
        ("profile_append", {"labels": ["b", "c"]}, 30),
        ("profile_set", {"only_loser": 2}, 1),
    )
    survivor_tier_newer = _doc(("profile_set", {"tier": "gold"}, 99))
    merged = merge_properties(survivor, loser)
    assert property_values(merged) == {
        "city": "Beijing",  # the later set wins
        "tier": "silver",
        "first_channel": "ads",  # set-once keeps the older write
        "points": 17,  # increments add
        "labels": ["a", "b", "c"],  # appends unite
        "only_survivor": 1,
        "only_loser": 2,
    }
    assert merged["meta"]["points"] == [30, "inc"]
    assert property_values(merge_properties(survivor_tier_newer, loser))["tier"] == "gold"
    # Neither argument is modified.
    assert property_values(survivor)["city"] == "Shanghai"


def test_merge_set_once_keeps_survivor_when_older_and_handles_missing() -> None:
    older = _doc(("profile_set_once", {"k": "old"}, 1))
    newer = _doc(("profile_set_once", {"k": "new"}, 2))
    assert property_values(merge_properties(older, newer)) == {"k": "old"}
    assert property_values(merge_properties(None, newer)) == {"k": "new"}
    assert property_values(merge_properties(newer, None)) == {"k": "new"}
