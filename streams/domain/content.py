"""Content interest: weighted, time-decayed scores per content tag.

An event on a content item (click, favourite, comment, order …) adds the event's weight
to each of the item's tags. Scores halve every ``half_life``; the top N above
``min_score`` become ``interest:<tag>`` tags. A score is stored as ``[score, at]`` and
decayed lazily, so nothing needs updating while the user is away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.domain.events import TrackEvent
from streams.domain.tag_definitions import ContentDef

__all__ = ["content_tags_of", "decayed", "merge_interests", "observe", "top"]


def decayed(defs: ContentDef, entry: list[float], now: int) -> float:
    """The score of ``entry`` (``[score, at]``) as seen at ``now``."""
    score, at = entry
    return float(score * 0.5 ** ((now - at) / defs.half_life))


def content_tags_of(defs: ContentDef, event: TrackEvent) -> tuple[str, ...]:
    """The content item's tags: from the event's tags properties, else from the item the
    event names (its id, optionally its type): its current properties in the live item
    catalogue, else the definition file's catalogue. A deleted item has no tags."""
    tags = _tags_in(defs, event.properties)
    if tags:
        return tags
    for name in defs.id_properties:
        item = event.properties.get(name)
        if isinstance(item, (str, int)) and not isinstance(item, bool):
            return _item_tags(defs, str(item), event.properties.get(defs.type_property))
    return ()


def _tags_in(defs: ContentDef, properties: Mapping[str, Any]) -> tuple[str, ...]:
    for name in defs.tags_properties:
        raw = properties.get(name)
        if isinstance(raw, str):
            raw = raw.split(",")
        if isinstance(raw, list):
            tags = tuple(dict.fromkeys(t.strip() for t in raw if isinstance(t, str) and t.strip()))
            if tags:
                return tags
    return ()


def _item_tags(defs: ContentDef, item_id: str, item_type: Any) -> tuple[str, ...]:
    if defs.items is not None:
        kind = item_type if isinstance(item_type, str) and item_type else None
        current = defs.items.item(item_id, kind)
        if current is not None:
            return _tags_in(defs, current)
    return defs.catalogue.get(item_id, ())


def observe(defs: ContentDef, interests: dict[str, list[float]], event: TrackEvent) -> None:
    """Add the event's weight to its content tags (in place)."""
    weight = defs.weights.get(event.event, 0.0)
    if not weight:
        return
    for tag in content_tags_of(defs, event):
        _add(defs, interests, tag, [weight, float(event.time)])
    if len(interests) > defs.max_kept:
        ranked = sorted(interests, key=lambda t: -decayed(defs, interests[t], event.time))
        for tag in ranked[defs.max_kept :]:
            del interests[tag]


def _add(defs: ContentDef, interests: dict[str, list[float]], tag: str, entry: list[float]) -> None:
    old = interests.get(tag)
    if old is None:
        interests[tag] = entry
        return
    # Bring both to the later time, then add.
    at = max(old[1], entry[1])
    interests[tag] = [round(decayed(defs, old, int(at)) + decayed(defs, entry, int(at)), 6), at]


def merge_interests(
    defs: ContentDef, a: Mapping[str, list[float]], b: Mapping[str, list[float]]
) -> dict[str, list[float]]:
    merged = {tag: list(entry) for tag, entry in a.items()}
    for tag, entry in b.items():
        _add(defs, merged, tag, list(entry))
    return merged


def top(defs: ContentDef, interests: Mapping[str, list[float]], now: int) -> list[str]:
    """The top N content tags at ``now`` (score ≥ ``min_score``), best first."""
    scored = [(decayed(defs, e, now), tag) for tag, e in interests.items()]
    ranked = sorted((s, t) for s, t in scored if s >= defs.min_score)
    ranked.sort(key=lambda st: (-st[0], st[1]))
    return [t for _, t in ranked[: defs.top_n]]
