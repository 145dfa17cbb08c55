from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from streams.domain.content import content_tags_of, decayed, merge_interests, observe, top
from streams.domain.items import ItemCatalogue, ItemState
from streams.domain.tag_definitions import ContentDef
from tests.unit.streams.domain.tag_helpers import DAY, T0, ev

C = ContentDef(
    weights={"click_content": 1.0, "favorite": 3.0},
    half_life=DAY,
    top_n=2,
    min_score=1.0,
    max_kept=3,
    tags_properties=("content_tags", "category"),
    catalogue={"a1": ("running", "shoes"), "7": ("yoga",)},
)


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        pytest.param({"content_tags": ["run", " run ", "", 3]}, ("run",), id="list-deduped"),
        pytest.param({"content_tags": "a, b"}, ("a", "b"), id="comma-text"),
        pytest.param({"category": "shoes"}, ("shoes",), id="second-property"),
        pytest.param(
            {"content_tags": [], "content_id": "a1"}, ("running", "shoes"), id="catalogue"
        ),
        pytest.param({"content_id": 7}, ("yoga",), id="numeric-id"),
        pytest.param({"content_id": True}, (), id="bool-id"),
        pytest.param({"content_id": "zz"}, (), id="unknown-id"),
        pytest.param({}, (), id="nothing"),
    ],
)
def test_content_tags_of(properties: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert content_tags_of(C, ev("click_content", **properties)) == expected


def test_scores_decay_by_half_life_and_add_up() -> None:
    interests: dict[str, list[float]] = {}
    observe(C, interests, ev("favorite", T0, content_tags=["run"]))
    observe(C, interests, ev("click_content", T0 + DAY, content_tags=["run"]))
    assert interests["run"] == [pytest.approx(2.5), T0 + DAY]
    assert decayed(C, interests["run"], T0 + 2 * DAY) == pytest.approx(1.25)


def test_a_late_event_is_decayed_to_the_newer_time() -> None:
    interests: dict[str, list[float]] = {}
    observe(C, interests, ev("click_content", T0 + DAY, content_tags=["run"]))
    observe(C, interests, ev("favorite", T0, content_tags=["run"]))
    assert interests["run"] == [pytest.approx(2.5), T0 + DAY]


def test_unweighted_events_are_ignored_and_only_max_kept_survive() -> None:
    interests: dict[str, list[float]] = {}
    observe(C, interests, ev("view_page", content_tags=["x"]))
    assert interests == {}
    observe(C, interests, ev("favorite", T0, content_tags=["a", "b", "c"]))
    observe(C, interests, ev("click_content", T0, content_tags=["d"]))
    assert sorted(interests) == ["a", "b", "c"]


def test_top_ranks_by_decayed_score_then_name() -> None:
    interests = {"a": [3.0, T0], "b": [3.0, T0], "c": [8.0, T0 - 3 * DAY], "d": [0.5, T0]}
    assert top(C, interests, T0) == ["a", "b"]
    assert top(C, interests, T0 + 2 * DAY) == []


def test_merge_interests_adds_common_tags() -> None:
    merged = merge_interests(C, {"a": [1.0, T0]}, {"a": [2.0, T0 + DAY], "b": [1.0, T0]})
    assert merged == {"a": [pytest.approx(2.5), T0 + DAY], "b": [1.0, T0]}


def _live() -> ContentDef:
    items = ItemCatalogue()
    items.apply(_item("a1", 10, "product", content_tags=["trail"], category="shoes"))
    items.apply(_item("a1", 12, "article", category="reviews"))
    items.apply(_item("gone", 10, "product", content_tags=["x"]))
    items.apply(_item("gone", 11, "product", deleted=True))
    items.apply(_item("7", 10, "product", content_tags=[]))
    return replace(C, id_properties=("content_id", "item_id"), items=items.for_project("p"))


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        pytest.param({"item_id": "a1", "item_type": "product"}, ("trail",), id="live-by-type"),
        pytest.param({"item_id": "a1"}, ("reviews",), id="live-latest-of-any-type"),
        pytest.param({"item_id": "a1", "item_type": ""}, ("reviews",), id="empty-type"),
        pytest.param({"content_id": "a1", "item_type": "video"}, ("running", "shoes"), id="file"),
        pytest.param({"item_id": "gone"}, (), id="deleted-item-has-no-tags"),
        pytest.param({"item_id": "7"}, (), id="live-item-without-tags-hides-the-file"),
        pytest.param({"item_id": "a1", "category": "own"}, ("own",), id="event-tags-first"),
        pytest.param(
            {"content_id": True, "item_id": "a1", "item_type": "product"},
            ("trail",),
            id="next-id-property",
        ),
    ],
)
def test_content_tags_from_the_live_catalogue(
    properties: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert content_tags_of(_live(), ev("click_content", **properties)) == expected


def test_an_item_changed_later_applies_to_later_events() -> None:
    items = ItemCatalogue()
    live = replace(C, id_properties=("item_id",), items=items.for_project("p"))
    interests: dict[str, list[float]] = {}
    observe(live, interests, ev("favorite", T0, item_id="b2"))
    assert interests == {}
    items.apply(_item("b2", 10, "product", content_tags=["yoga"]))
    observe(live, interests, ev("favorite", T0 + 1, item_id="b2"))
    items.apply(_item("b2", 20, "product", deleted=True))
    observe(live, interests, ev("favorite", T0 + 2, item_id="b2"))
    assert interests == {"yoga": [3.0, T0 + 1]}


def _item(item_id: str, version: int, kind: str, *, deleted: bool = False, **props: Any) -> Any:
    return ItemState("p", kind, item_id, props, deleted, version, version, f"e{version}")
