"""The item catalogue: the current state of every item (``item_set`` / ``item_delete``).

Every stream worker holds the whole catalogue (it follows ``items.catalogue`` from the
start) so content-interest tags can read an item's current attributes from an event that
names only the item's id. The latest change by the sender's clock wins, whatever order
the records arrive in: a record whose version is not above the held one is ignored, so
replays and re-reads change nothing. A deleted item is remembered (with its version) so
an older ``item_set`` arriving late does not bring it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ItemCatalogue", "ItemSource", "ItemState", "ProjectItems"]


@dataclass(frozen=True, slots=True)
class ItemState:
    """One item after its latest change."""

    project: str
    item_type: str
    item_id: str
    properties: Mapping[str, Any]
    """The item's properties as last set (empty when deleted)."""
    deleted: bool
    version: int
    """Orders the changes of one item: higher wins (2 × sender time, + 1 for a delete)."""
    updated_at: int
    event_id: str


class ItemSource(Protocol):
    """The items of one project, as content tags read them."""

    def item(self, item_id: str, item_type: str | None) -> Mapping[str, Any] | None:
        """The item's properties; ``{}`` for a deleted item, None for an unknown one.

        Without ``item_type``, the item of that id changed last (of any type).
        """


class ItemCatalogue:
    """Every item of every project; :meth:`apply` is idempotent and order-insensitive."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, ItemState]] = {}
        self._live = 0

    def __len__(self) -> int:
        """Items currently set (deleted ones not counted)."""
        return self._live

    def apply(self, item: ItemState) -> bool:
        """Hold ``item`` unless a change at least as new is held; True when it was taken."""
        by_type = self._items.setdefault((item.project, item.item_id), {})
        old = by_type.get(item.item_type)
        if old is not None and old.version >= item.version:
            return False
        self._live += (not item.deleted) - (old is not None and not old.deleted)
        by_type[item.item_type] = item
        return True

    def lookup(
        self, project: str, item_id: str, item_type: str | None = None
    ) -> Mapping[str, Any] | None:
        by_type = self._items.get((project, item_id))
        if not by_type:
            return None
        if item_type is None:
            state = max(by_type.values(), key=lambda s: s.version)
        elif item_type in by_type:
            state = by_type[item_type]
        else:
            return None
        return {} if state.deleted else state.properties

    def for_project(self, project: str) -> ProjectItems:
        """A live view of one project's items (sees later changes)."""
        return ProjectItems(self, project)


class ProjectItems:
    """:class:`ItemSource` over one project of a catalogue."""

    __slots__ = ("catalogue", "project")

    def __init__(self, catalogue: ItemCatalogue, project: str) -> None:
        self.catalogue = catalogue
        self.project = project

    def item(self, item_id: str, item_type: str | None) -> Mapping[str, Any] | None:
        return self.catalogue.lookup(self.project, item_id, item_type)
