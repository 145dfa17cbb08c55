"""Funnel definitions as typed data, and how an event matches a step.

A funnel is an ordered list of steps; a step matches events by name and by optional
filters on event fields (``platform``, ``properties.<key>…``, ``context.<key>…``).
Field values are read the way ClickHouse's ``JSONExtractString`` / ``JSONExtractFloat``
read them from ``siyu.events``, so a step matches the same events in the stream and in
the SQL that checks it (:mod:`streams.domain.funnel_sql`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import orjson

from streams.domain.events import TrackEvent
from streams.domain.scenes import touch_of
from streams.domain.tag_definitions import SceneDictionary

__all__ = [
    "BUILTIN_DIMENSIONS",
    "DAY_S",
    "Dimension",
    "FieldPath",
    "Filter",
    "FilterOp",
    "Funnel",
    "FunnelKind",
    "Step",
    "StepActor",
    "as_number",
    "as_string",
    "dimension_value",
    "field_value",
    "step_mask",
]

DAY_S = 86_400
FieldPath = tuple[str, ...]
FilterOp = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "not_exists"]
FILTER_OPS: frozenset[str] = frozenset(get_args(FilterOp))
FunnelKind = Literal["ordered", "fission"]
StepActor = Literal["user", "sharer", "invitee"]
Scalar = str | float

# Top-level event fields a filter or a breakdown may name (the rest live in JSON).
TOP_FIELDS: frozenset[str] = frozenset({"event", "type", "platform", "lib_name", "lib_version"})
JSON_FIELDS: frozenset[str] = frozenset({"properties", "context"})
# What ClickHouse's JSONExtractFloat accepts inside a JSON string.
_NUMBER_RE = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class Filter:
    """``field op value``; ``value`` is a string, a number or (for in/not_in) a tuple."""

    field: FieldPath
    op: FilterOp
    value: Scalar | tuple[Scalar, ...] | None = None

    @property
    def numeric(self) -> bool:
        """Compare as numbers (``JSONExtractFloat``) rather than strings."""
        values = self.value if isinstance(self.value, tuple) else (self.value,)
        return self.op in ("gt", "gte", "lt", "lte") or any(isinstance(v, float) for v in values)


@dataclass(frozen=True, slots=True)
class Step:
    """One funnel step: any of ``events``, passing every filter.

    Fission funnels also say whose event it is (``actor``), whether it must carry the
    sharer's share (``via_share``) and whether only the invitee's first such event counts.
    """

    name: str
    events: frozenset[str]
    filters: tuple[Filter, ...] = ()
    actor: StepActor = "user"
    via_share: bool = False
    first: bool = False


@dataclass(frozen=True, slots=True)
class Dimension:
    """A breakdown of entries: a builtin (platform, channel, campaign) or a field path.

    ``channel`` and ``campaign`` are the entry's, as the tag engine reads an entry
    (:func:`streams.domain.scenes.touch_of`): the channel class of the scene dictionary
    ``scenes`` (the tag file's ``sources``), the same one acquisition and first-touch
    views show."""

    name: str
    path: FieldPath = ()
    scenes: SceneDictionary = field(default_factory=SceneDictionary, compare=False, repr=False)


BUILTIN_DIMENSIONS: frozenset[str] = frozenset({"platform", "channel", "campaign"})


@dataclass(frozen=True, slots=True)
class Funnel:
    """An ordered funnel: steps in event-time order within ``window_s`` of the first step.

    Counted per user and per *entry day* (the calendar day, in the project's timezone,
    of the step-1 event that starts the chain), like ``windowFunnel(window_s)`` with step
    1 restricted to that day.
    """

    name: str
    steps: tuple[Step, ...]
    window_s: int
    breakdown: tuple[Dimension, ...] = ()
    kind: FunnelKind = "ordered"
    title: str = ""
    lateness_s: int = DAY_S
    """Events more than this behind the user's newest event may miss days already closed."""
    max_entries: int = 2_000
    """Matching events kept per user; the oldest go first (bounds state of bots)."""
    offset_s: int = 0
    """Seconds east of UTC of the project's timezone: days are that zone's days."""

    def day_of(self, t: int) -> int:
        """The local day (days since 1970-01-01) of epoch second ``t``."""
        return (t + self.offset_s) // DAY_S

    def day_start(self, day: int) -> int:
        """The epoch second at which local day ``day`` begins."""
        return day * DAY_S - self.offset_s

    @property
    def size(self) -> int:
        return len(self.steps)

    @property
    def event_names(self) -> frozenset[str]:
        names: set[str] = set()
        for step in self.steps:
            names |= step.events
        return frozenset(names)


def field_value(event: TrackEvent, path: FieldPath) -> Any:
    """The raw value at ``path`` (None when absent)."""
    head = path[0]
    if head in TOP_FIELDS:
        return getattr(event, head)
    node: Any = event.properties if head == "properties" else event.context
    for part in path[1:]:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def as_string(value: Any) -> str:
    """``JSONExtractString`` of a JSON value: strings as is, numbers and bools as text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return orjson.dumps(value).decode()


def as_number(value: Any) -> float:
    """``JSONExtractFloat`` of a JSON value: numbers, numeric strings, else 0."""
    if isinstance(value, bool) or value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        return float(value)
    return 0.0


def _exists(event: TrackEvent, path: FieldPath) -> bool:
    if path[0] in TOP_FIELDS:
        return True
    node: Any = event.properties if path[0] == "properties" else event.context
    for part in path[1:]:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _passes(f: Filter, event: TrackEvent) -> bool:
    if f.op in ("exists", "not_exists"):
        return _exists(event, f.field) == (f.op == "exists")
    raw = field_value(event, f.field)
    got: Scalar = as_number(raw) if f.numeric else as_string(raw)
    want = f.value
    if f.op in ("in", "not_in"):
        options = want if isinstance(want, tuple) else (want,)
        return (got in options) == (f.op == "in")
    if f.op == "eq":
        return got == want
    if f.op == "ne":
        return got != want
    number, limit = float(got), float(want)  # type: ignore[arg-type]
    if f.op == "gt":
        return number > limit
    if f.op == "gte":
        return number >= limit
    if f.op == "lt":
        return number < limit
    return number <= limit


def step_mask(funnel: Funnel, event: TrackEvent) -> int:
    """Bit ``k`` set when the event matches step ``k`` (by name and filters)."""
    mask = 0
    for k, step in enumerate(funnel.steps):
        if event.event in step.events and all(_passes(f, event) for f in step.filters):
            mask |= 1 << k
    return mask


def dimension_value(dim: Dimension, event: TrackEvent) -> str:
    """The breakdown value of an entry event."""
    if dim.name == "platform" and not dim.path:
        return event.platform
    if dim.name in ("channel", "campaign") and not dim.path:
        touch = touch_of(dim.scenes, event)
        if dim.name == "campaign":
            return str(touch["utm_campaign"]) if touch else ""
        return str(touch["channel"]) if touch else dim.scenes.direct
    return as_string(field_value(event, dim.path))
