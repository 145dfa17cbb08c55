"""Tag definitions as typed data, and the tag change record.

Definitions are loaded from a declarative file (see :mod:`streams.domain.tag_parsing`);
every rule of the tag engine (:mod:`streams.domain.tags`) reads them from here. Times
are epoch milliseconds; durations are milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from streams.domain.items import ItemSource
    from streams.domain.qr_codes import QrCode

__all__ = [
    "DAY_MS",
    "HOUR_MS",
    "ContentDef",
    "Definitions",
    "EventNames",
    "LifecycleDef",
    "ReferralDef",
    "RfmDef",
    "Rule",
    "SceneDictionary",
    "TagChange",
    "TagValue",
    "ValueTier",
]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

TagValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class TagChange:
    """One tag of one user changed. ``old`` None: added; ``new`` None: removed.

    ``cause`` is the event id that caused it, or ``timer``, ``merge`` or
    ``referral:<invitee>``.
    """

    user_id: str
    tag: str
    old: TagValue | None
    new: TagValue | None
    at: int
    cause: str


@dataclass(frozen=True, slots=True)
class EventNames:
    """Which event names feed which facts."""

    visits: frozenset[str] = frozenset({"$pageview", "$MPViewScreen", "$AppViewScreen"})
    counted: tuple[str, ...] = ("view_product", "add_to_cart", "pay_order")
    """Events with rolling-window counts (``count_7d:<event>`` …)."""
    order: str = "pay_order"
    amount_property: str = "amount"
    cart: str = "add_to_cart"
    product: str = "view_product"
    category_property: str = "category"


@dataclass(frozen=True, slots=True)
class SceneDictionary:
    """WeChat mini-program scene values and utm mediums → channel class."""

    scenes: Mapping[int, str] = field(default_factory=dict)
    names: Mapping[int, str] = field(default_factory=dict)
    """Scene value → the name operators read (场景值名称)."""
    utm_mediums: Mapping[str, str] = field(default_factory=dict)
    utm_default: str = "ads"
    """Channel of a utm-tagged entry whose medium is not listed."""
    share: str = "share"
    """Channel of an entry carrying ``context.share`` but no scene."""
    qr: str = "qr"
    """Channel of an entry carrying a ``qr_id`` but no scene."""
    direct: str = "direct"
    """Channel of a first visit without any source information."""
    other: str = "other"
    """Channel of a scene value missing from the dictionary."""
    qr_codes: Mapping[str, QrCode] = field(default_factory=dict)
    """The live-code registry (:mod:`streams.domain.qr_codes`): names of known codes."""
    qr_codes_source: str = ""
    """The registry file the codes came from (reloaded when it changes)."""


@dataclass(frozen=True, slots=True)
class LifecycleDef:
    """new (first ``new_for``) → active → silent (no visit for ``silent_after``) →
    churned (no visit for ``churned_after``)."""

    new_for: int = 7 * DAY_MS
    silent_after: int = 14 * DAY_MS
    churned_after: int = 30 * DAY_MS


@dataclass(frozen=True, slots=True)
class RfmDef:
    """R/F/M scores 1…len(thresholds)+1; a score ≥ ``high_from`` counts as high.

    R: calendar days since the last order, lower is better (``recency_days`` ascending).
    F: orders in the last ``window_days``; M: amount paid in them (both ascending).
    """

    window_days: int = 90
    recency_days: tuple[int, ...] = (7, 14, 30, 60)
    frequency: tuple[float, ...] = (1, 2, 3, 5)
    monetary: tuple[float, ...] = (100, 300, 800, 2000)
    high_from: int = 3
    segments: Mapping[str, str] = field(
        default_factory=lambda: {
            "HHH": "important_value",
            "HLH": "important_develop",
            "LHH": "important_retain",
            "LLH": "important_win_back",
            "HHL": "general_value",
            "HLL": "general_develop",
            "LHL": "general_retain",
            "LLL": "general_win_back",
        }
    )
    """Segment name per R/F/M high (H) or low (L), in R, F, M order."""


@dataclass(frozen=True, slots=True)
class ValueTier:
    name: str
    min_paid: float


@dataclass(frozen=True, slots=True)
class ReferralDef:
    success_events: frozenset[str] = frozenset({"register"})
    """An invitee's event that makes the invitation successful (credited once)."""
    koc_min: int = 3
    """Successful invitees that make the inviter a KOC."""


@dataclass(frozen=True, slots=True)
class ContentDef:
    """Weighted, time-decayed interest in content tags; the top N become tags."""

    weights: Mapping[str, float] = field(default_factory=dict)
    """Event name → weight added to each of the content item's tags."""
    half_life: int = 14 * DAY_MS
    top_n: int = 3
    min_score: float = 1.0
    max_kept: int = 32
    """Interest scores kept per user (the lowest are forgotten)."""
    tags_properties: tuple[str, ...] = ("content_tags",)
    """Event properties holding the item's tags (a list or comma-separated); first found wins."""
    id_properties: tuple[str, ...] = ("content_id",)
    """Event properties holding the item's id (first found wins)."""
    type_property: str = "item_type"
    """Event property holding the item's type (optional: without it, any type)."""
    catalogue: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Content id → its tags, used when the event carries no tags itself and the live
    item catalogue does not know the item."""
    items: ItemSource | None = None
    """The project's live item catalogue (set by the worker): an item's tags are read from
    its current properties (``tags_properties``), before ``catalogue``."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule tag: a CEL ``program`` over the facts (see :mod:`streams.domain.tag_rules`).

    ``flag``: the tag is ``true`` while the expression is true. ``value``: the tag holds
    the expression's value (absent when it is ``null`` or ``""``).
    """

    name: str
    expression: str
    kind: Literal["flag", "value"]
    program: Any
    line: int = 0
    variables: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Definitions:
    """Everything the tag engine needs; one immutable value per loaded file."""

    source: str = "<defaults>"
    utc_offset: int = 8 * HOUR_MS
    """Offset of the operations team's calendar days (China: UTC+8, no DST)."""
    windows_days: tuple[int, ...] = (7, 30, 90)
    events: EventNames = field(default_factory=EventNames)
    scenes: SceneDictionary = field(default_factory=SceneDictionary)
    lifecycle: LifecycleDef | None = field(default_factory=LifecycleDef)
    rfm: RfmDef | None = field(default_factory=RfmDef)
    value_tiers: tuple[ValueTier, ...] = ()
    referral: ReferralDef | None = field(default_factory=ReferralDef)
    content: ContentDef | None = field(default_factory=ContentDef)
    rules: tuple[Rule, ...] = ()
    dedupe_ids: int = 64
    """Recent event ids remembered per user: a re-sent event is not counted twice."""
    hourly_horizon: int = 48 * HOUR_MS
    """Rules using ``hours_since_*`` facts are re-checked hourly this long after the fact."""

    @property
    def horizon_days(self) -> int:
        """Days of daily buckets kept: the longest window any fact looks back over."""
        longest = max(self.windows_days, default=1)
        if self.rfm is not None:
            longest = max(longest, self.rfm.window_days, *self.rfm.recency_days)
        return longest + 1
