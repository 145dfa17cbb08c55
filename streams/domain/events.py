"""The normalized event every stream step works on (the leaf record type of the domain).

``schemas/records.py`` converts it to and from Avro; nothing here knows the encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

__all__ = ["EVENT_TYPES", "EventType", "TrackEvent"]

EventType = Literal[
    "track",
    "identify",
    "profile_set",
    "profile_set_once",
    "profile_increment",
    "profile_delete",
    "profile_append",
    "profile_unset",
    "track_signup",
    "track_id_bind",
    "track_id_unbind",
    "item_set",
    "item_delete",
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """One normalized event.

    ``time`` is the stored time (epoch ms, skew-corrected); ``identities`` maps an
    identity key (``type`` or ``type:namespace``) to its normalized value.
    """

    event_id: str
    type: str
    event: str
    time: int
    platform: str
    identities: Mapping[str, str]
    properties: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    client_time: int | None = None
    lib_name: str = ""
    lib_version: str = ""
    user_id: str | None = None
    warnings: tuple[str, ...] = ()
    enrichment: Mapping[str, str] = field(default_factory=dict)
    entry: Mapping[str, str] = field(default_factory=dict)
    """Entry context read from ``context`` by the collector: ``qr``, ``material``,
    ``channel``, ``scene``, ``utm_*`` (absent keys: not sent). On ``events.stitched``
    only, ``sharer_user`` may name the user the link path resolved the event's sharer to
    (not stored: the sink drops it)."""

    def with_user(self, user_id: str) -> TrackEvent:
        return replace(self, user_id=user_id)
