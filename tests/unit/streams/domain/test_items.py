"""The live item catalogue: latest change by the sender's clock wins, deletes stick."""

from __future__ import annotations

from typing import Any

import pytest

from streams.domain.items import ItemCatalogue, ItemState


def item(
    item_id: str = "p1",
    version: int = 10,
    *,
    kind: str = "product",
    project: str = "default",
    deleted: bool = False,
    **properties: Any,
) -> ItemState:
    return ItemState(
        project=project,
        item_type=kind,
        item_id=item_id,
        properties={} if deleted else properties,
        deleted=deleted,
        version=version,
        updated_at=version // 2,
        event_id=f"e-{item_id}-{version}",
    )


def test_a_newer_change_replaces_an_item_and_an_older_one_is_ignored() -> None:
    c = ItemCatalogue()
    assert c.apply(item(version=10, category="shoes"))
    assert c.apply(item(version=12, category="bags"))
    assert not c.apply(item(version=11, category="hats"))  # late, older
    assert not c.apply(item(version=12, category="bags"))  # re-read
    assert c.lookup("default", "p1", "product") == {"category": "bags"}
    assert len(c) == 1


def test_a_delete_sticks_against_an_older_set_arriving_late() -> None:
    c = ItemCatalogue()
    c.apply(item(version=10, category="shoes"))
    assert c.apply(item(version=13, deleted=True))
    assert len(c) == 0
    assert not c.apply(item(version=12, category="shoes"))
    assert c.lookup("default", "p1") == {}
    assert c.apply(item(version=20, category="new"))  # set again later
    assert c.lookup("default", "p1") == {"category": "new"}
    assert len(c) == 1


def test_a_delete_of_an_unknown_item_is_remembered_but_not_counted() -> None:
    c = ItemCatalogue()
    assert c.apply(item("p9", 5, deleted=True))
    assert len(c) == 0
    assert c.lookup("default", "p9", "product") == {}


@pytest.mark.parametrize(
    ("project", "item_id", "kind", "expected"),
    [
        pytest.param("default", "p1", "product", {"tags": ["run"]}, id="type-given"),
        pytest.param("default", "p1", "article", {"tags": ["read"]}, id="other-type"),
        pytest.param("default", "p1", None, {"tags": ["read"]}, id="no-type-latest-change"),
        pytest.param("default", "p1", "video", None, id="unknown-type"),
        pytest.param("default", "p2", None, None, id="unknown-id"),
        pytest.param("other", "p1", None, None, id="other-project"),
    ],
)
def test_lookup(project: str, item_id: str, kind: str | None, expected: Any) -> None:
    c = ItemCatalogue()
    c.apply(item("p1", 10, kind="product", tags=["run"]))
    c.apply(item("p1", 12, kind="article", tags=["read"]))
    assert c.lookup(project, item_id, kind) == expected


def test_a_project_view_sees_later_changes() -> None:
    c = ItemCatalogue()
    view = c.for_project("default")
    assert view.item("p1", None) is None
    c.apply(item(version=10, category="shoes"))
    assert view.item("p1", "product") == {"category": "shoes"}
    assert c.for_project("other").item("p1", None) is None
