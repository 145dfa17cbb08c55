"""Partition keys and the grouping of one request's events into Kafka records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from schemas.records import EventBatch, TrackEvent

__all__ = ["event_key", "group_by_key", "primary_identity"]

# Device-level ids first: one device's events stay on one partition, in order, across a login.
_KEY_PRIORITY = (
    "anonymous_id",
    "cookie_id",
    "device_id",
    "wx_openid",
    "wx_unionid",
    "login_id",
    "member_id",
    "mobile",
)


def primary_identity(identities: Mapping[str, str]) -> str:
    """The partition key of an event: its most device-stable identity, as ``type=value``."""
    for wanted in _KEY_PRIORITY:
        for key in sorted(identities):
            if key == wanted or key.startswith(wanted + ":"):
                return f"{key}={identities[key]}"
    key = min(identities)
    return f"{key}={identities[key]}"


def event_key(event: TrackEvent) -> str:
    if event.identities:
        return primary_identity(event.identities)
    item = event.context.get("item")  # item_* events describe things, not people
    if isinstance(item, Mapping):
        return f"item={item.get('type')}:{item.get('id')}"
    return f"event={event.event_id}"


def group_by_key(
    events: Iterable[TrackEvent],
    *,
    project: str,
    received_at: int,
    sent_at: int | None,
    ip: str,
    user_agent: str,
    source: str,
) -> list[EventBatch]:
    """One :class:`EventBatch` (one Kafka record) per partition key, order kept."""
    groups: dict[str, list[TrackEvent]] = {}
    for e in events:
        groups.setdefault(event_key(e), []).append(e)
    return [
        EventBatch(
            project=project,
            key=key,
            received_at=received_at,
            sent_at=sent_at,
            ip=ip,
            user_agent=user_agent,
            source=source,
            events=tuple(group),
        )
        for key, group in groups.items()
    ]
