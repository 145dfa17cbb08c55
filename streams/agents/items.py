"""items.catalogue → the item catalogue every worker holds (content tags read it live).

The stitch agent publishes the state each ``item_set`` / ``item_delete`` event leaves
(:func:`publish_items`) on the one-partition ``items.catalogue`` topic, keyed by
project/type/id. Every worker reads that topic whole from its start and keeps following
it (:class:`LiveItems`), so any worker can resolve any item: an item set takes effect
for the events that arrive after it, a deleted item stops giving tags. The newest
change by the sender's clock wins (:mod:`streams.domain.items`), so the order of
arrival and re-reads do not matter. After the embedded broker lost the topic, the sink
republishes it from ``siyu.items`` before the workers start (sinks/seeding.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from faust.types import TopicT

from schemas.exceptions import SchemaError
from schemas.item_records import ITEM_TYPES, decode_item, encode_item, item_key, item_state_of
from siyu.config_topics import ConfigTopic
from siyu.settings import Settings
from streams import metrics
from streams.domain.items import ItemCatalogue
from streams.domain.tag_definitions import Definitions

__all__ = ["LiveItems", "publish_items"]

logger = logging.getLogger(__name__)


class LiveItems:
    """This worker's copy of the item catalogue, fed by ``items.catalogue``."""

    def __init__(self, settings: Settings) -> None:
        self.catalogue = ItemCatalogue()
        self.topic = ConfigTopic(settings.kafka, "items.catalogue", self._apply)

    def _apply(self, value: bytes) -> None:
        try:
            item = decode_item(value)
        except SchemaError as exc:
            # Skip policy: only the stitch agent and the seeding write this topic.
            logger.warning("undecodable item record skipped: %s", exc)
            metrics.EVENTS.labels(agent="items_undecodable").inc()
            return
        if self.catalogue.apply(item):
            metrics.EVENTS.labels(agent="items").inc()
            metrics.ITEMS.set(len(self.catalogue))
            metrics.ITEMS_UPDATED.set(time.time())

    def definitions(self, defs: Definitions, project: str) -> Definitions:
        """``defs`` whose content interests read ``project``'s live items."""
        if defs.content is None:
            return defs
        return replace(
            defs, content=replace(defs.content, items=self.catalogue.for_project(project))
        )


async def publish_items(topic: TopicT, project: str, events: Iterable[dict[str, Any]]) -> None:
    """Send the catalogue state of every item event among ``events`` (decoded Avro)."""
    for e in events:
        if e["type"] not in ITEM_TYPES:
            continue
        item = item_state_of(project, e)
        if item.item_type and item.item_id:
            await topic.send(key=item_key(item), value=encode_item(item))
