"""Funnel progress per user: the state machine behind ``siyu.funnel_counts``.

A user's progress in one funnel is the set of their step-matching events ("entries") that
can still matter, plus the level already reported per open *partition*: an entry day
(the day, in the project's timezone, of a step-1 event), optionally narrowed to one
breakdown value of that step-1 event. The level of a partition is computed exactly as
ClickHouse's default ``windowFunnel(window)`` computes it with step 1 restricted to the partition:

- entries are visited in (second, step) order; a step-1 entry (re)starts the chain at
  its time; an entry of step k > 1 advances when level k-1 was reached by a chain that
  started at most ``window`` seconds before it (inclusive);
- the level is the highest step any chain reached.

Re-entry: a later step-1 event restarts the window from its own time, but levels already
reached stay reached. Entries are a set, so a replayed event changes nothing, and
adding events never lowers a level, which makes :func:`merge` (identity merges) a union.

A partition closes when the user's newest event time minus ``lateness_s`` passes the end
of its day plus the window; its entries are then dropped, and later events that could
only have changed a closed day are counted in ``dropped`` instead of applied.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.domain.events import TrackEvent
from streams.domain.funnel_model import DAY_S, Funnel, dimension_value, step_mask

__all__ = [
    "Entry",
    "FunnelProgress",
    "PartitionKey",
    "StepCompletion",
    "add_entries",
    "advance",
    "chain_starts",
    "close",
    "cutoff",
    "entries_of",
    "merge",
    "settle",
    "window_funnel_level",
]

Entry = tuple[int, int, tuple[str, ...]]
"""(second, step mask, breakdown values of a step-1 entry or ())."""
PartitionKey = tuple[int, int, str]
"""(entry day, breakdown dimension index or -1 for the total, breakdown value)."""
Chain = tuple[int | None, ...]
"""Per step, the start second of the latest chain that reached it (None: not reached)."""


@dataclass(frozen=True, slots=True)
class StepCompletion:
    """A user reached ``step`` (1-based) of ``funnel`` for entry ``day`` (days since epoch)."""

    funnel: str
    day: int
    dimension: str
    value: str
    step: int
    step_name: str
    at: int
    """Event time (epoch seconds) of the newest entry when the step was first seen reached."""


@dataclass(frozen=True, slots=True)
class FunnelProgress:
    entries: tuple[Entry, ...] = ()
    reached: dict[PartitionKey, int] = field(default_factory=dict)
    newest: int | None = None
    """Newest entry time seen (epoch seconds)."""
    dropped: int = 0
    """Events that arrived too late to change a day still open."""
    chains: dict[PartitionKey, Chain] = field(default_factory=dict)
    """Per partition, windowFunnel's chain starts after its newest entry, so an entry
    newer than all others advances it in O(steps); missing after a merge (recomputed)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "e": [[t, m, list(b)] for t, m, b in self.entries],
            "r": [[d, i, v, lvl] for (d, i, v), lvl in self.reached.items()],
            "c": [[d, i, v, list(c)] for (d, i, v), c in self.chains.items()],
            "t": self.newest,
            "x": self.dropped,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> FunnelProgress:
        if not doc:
            return cls()
        return cls(
            entries=tuple((t, m, tuple(b)) for t, m, b in doc["e"]),
            reached={(d, i, v): lvl for d, i, v, lvl in doc["r"]},
            newest=doc["t"],
            dropped=doc["x"],
            chains={(d, i, v): tuple(c) for d, i, v, c in doc.get("c", ())},
        )


def _extend(starts: Sequence[int | None], t: int, mask: int, window_s: int) -> Chain:
    """windowFunnel's step for the entries of one second (``mask``), in step order."""
    out = list(starts)
    if mask & 1:
        out[0] = t
    for k in range(1, len(out)):
        if mask >> k & 1:
            begun = out[k - 1]
            if begun is not None and t <= begun + window_s:
                out[k] = begun
    return tuple(out)


def _level(starts: Chain) -> int:
    for k in range(len(starts) - 1, -1, -1):
        if starts[k] is not None:
            return k + 1
    return 0


def chain_starts(seconds: Iterable[tuple[int, int]], window_s: int, size: int) -> Chain:
    """The chain starts after visiting ``(second, mask)`` pairs sorted by second."""
    starts: Chain = (None,) * size
    for t, mask in seconds:
        starts = _extend(starts, t, mask, window_s)
    return starts


def window_funnel_level(seconds: Iterable[tuple[int, int]], window_s: int, size: int) -> int:
    """``windowFunnel(window_s)`` over ``(second, mask)`` pairs sorted by second.

    Pairs of the same second must be combined into one mask (steps of one second are
    visited in step order, as ClickHouse sorts by (timestamp, condition)). ClickHouse
    stops at the full level; carrying on changes no level.
    """
    return _level(chain_starts(seconds, window_s, size))


def _completions(
    funnel: Funnel, key: PartitionKey, before: int, level: int, at: int
) -> list[StepCompletion]:
    day, dim, value = key
    name = funnel.breakdown[dim].name if dim >= 0 else ""
    return [
        StepCompletion(funnel.name, day, name, value, k, funnel.steps[k - 1].name, at)
        for k in range(before + 1, level + 1)
    ]


def _partition_seconds(
    funnel: Funnel, entries: Sequence[Entry], key: PartitionKey
) -> list[tuple[int, int]]:
    day, dim, value = key
    lo = funnel.day_start(day)
    hi = lo + DAY_S - 1 + funnel.window_s
    out: list[tuple[int, int]] = []
    for i in range(bisect_left(entries, (lo,)), len(entries)):
        t, mask, bvals = entries[i]
        if t > hi:
            break
        if mask & 1 and not (funnel.day_of(t) == day and (dim < 0 or bvals[dim] == value)):
            mask &= ~1
        if not mask:
            continue
        if out and out[-1][0] == t:
            out[-1] = (t, out[-1][1] | mask)
        else:
            out.append((t, mask))
    return out


def _partitions(funnel: Funnel, entries: Sequence[Entry], days: set[int]) -> set[PartitionKey]:
    keys: set[PartitionKey] = set()
    for t, mask, bvals in entries:
        day = funnel.day_of(t)
        if mask & 1 and day in days:
            keys.add((day, -1, ""))
            keys.update((day, i, v) for i, v in enumerate(bvals))
    return keys


def settle(
    funnel: Funnel,
    progress: FunnelProgress,
    days: set[int] | None = None,
    keys: set[PartitionKey] | None = None,
) -> tuple[FunnelProgress, list[StepCompletion]]:
    """Recompute the levels of the partitions of ``days`` (all when both are None) and
    of ``keys``.

    Returns the progress with the new levels and one completion per newly reached step.
    """
    entries = progress.entries
    if days is None and keys is None:
        days = {funnel.day_of(t) for t, mask, _ in entries if mask & 1}
    reached = dict(progress.reached)
    chains = dict(progress.chains)
    done: list[StepCompletion] = []
    at = progress.newest or 0
    for key in sorted(_partitions(funnel, entries, days or set()) | (keys or set())):
        seconds = _partition_seconds(funnel, entries, key)
        chains[key] = chain_starts(seconds, funnel.window_s, funnel.size)
        level = _level(chains[key])
        before = reached.get(key, 0)
        if level > before:
            reached[key] = level
            done.extend(_completions(funnel, key, before, level, at))
    settled = FunnelProgress(entries, reached, progress.newest, progress.dropped, chains)
    return close(funnel, settled), done


def cutoff(funnel: Funnel, newest: int | None) -> int | None:
    """Entries before this second can only change closed days."""
    if newest is None:
        return None
    return funnel.day_start(funnel.day_of(newest - funnel.lateness_s - funnel.window_s))


def close(funnel: Funnel, progress: FunnelProgress) -> FunnelProgress:
    """Drop the entries and levels of days that can no longer change."""
    limit = cutoff(funnel, progress.newest)
    if limit is None or not progress.entries or progress.entries[0][0] >= limit:
        return progress
    first_open = funnel.day_of(limit)
    return FunnelProgress(
        entries=progress.entries[bisect_left(progress.entries, (limit,)) :],
        reached={k: v for k, v in progress.reached.items() if k[0] >= first_open},
        newest=progress.newest,
        dropped=progress.dropped,
        chains={k: v for k, v in progress.chains.items() if k[0] >= first_open},
    )


def add_entries(
    funnel: Funnel, progress: FunnelProgress, new: Iterable[Entry]
) -> tuple[FunnelProgress, set[int]]:
    """Add entries (late ones are dropped); return the progress and the days they touch."""
    entries = list(progress.entries)
    present = set(entries)
    newest, dropped = progress.newest, progress.dropped
    days: set[int] = set()
    for entry in new:
        t = entry[0]
        limit = cutoff(funnel, newest)
        if limit is not None and t < limit:
            dropped += 1
            continue
        if entry not in present:
            present.add(entry)
            insort(entries, entry)
        newest = t if newest is None else max(newest, t)
        days.update(range(funnel.day_of(t - funnel.window_s), funnel.day_of(t) + 1))
    if len(entries) > funnel.max_entries:
        entries = entries[-funnel.max_entries :]
    kept = FunnelProgress(tuple(entries), progress.reached, newest, dropped, progress.chains)
    return kept, days


def _advance_newest(
    funnel: Funnel,
    chains: dict[PartitionKey, Chain],
    reached: dict[PartitionKey, int],
    entry: Entry,
    done: list[StepCompletion],
) -> set[PartitionKey]:
    """Apply an entry newer than every other one to the open partitions' chains.

    It is the last entry windowFunnel visits, so extending each stored chain by it gives
    the same levels as a full recomputation. Returns the partitions without a stored
    chain (after a merge), which must be recomputed.
    """
    t, mask, bvals = entry
    day = funnel.day_of(t)
    own: set[PartitionKey] = set()
    if mask & 1:
        own = {(day, -1, ""), *((day, i, v) for i, v in enumerate(bvals))}
    candidates = set(own)
    if mask > 1:
        first_day = funnel.day_of(t - funnel.window_s)
        # Only partitions with a level can advance; every one of them has one.
        candidates.update(k for k in reached if k[0] >= first_day)
    redo: set[PartitionKey] = set()
    for key in candidates:
        starts = chains.get(key)
        if starts is None:
            if key in reached:
                redo.add(key)
                continue
            starts = (None,) * funnel.size
        chains[key] = _extend(starts, t, mask if key in own else mask & ~1, funnel.window_s)
        level, before = _level(chains[key]), reached.get(key, 0)
        if level > before:
            reached[key] = level
            done.extend(_completions(funnel, key, before, level, t))
    return redo


def entries_of(funnel: Funnel, events: Iterable[TrackEvent]) -> list[Entry]:
    """The entries of the events that match at least one step."""
    out: list[Entry] = []
    for event in events:
        mask = step_mask(funnel, event)
        if not mask:
            continue
        bvals = tuple(dimension_value(d, event) for d in funnel.breakdown) if mask & 1 else ()
        out.append((event.time // 1000, mask, bvals))
    return out


def advance(
    funnel: Funnel, progress: FunnelProgress | None, events: TrackEvent | Sequence[TrackEvent]
) -> tuple[FunnelProgress, list[StepCompletion]]:
    """Apply one event (or the events of one record) to a user's progress.

    Returns the new progress and the steps newly reached, per partition. Idempotent:
    applying the same events again returns no completions.
    """
    batch = (events,) if isinstance(events, TrackEvent) else events
    progress = progress or FunnelProgress()
    entries = list(progress.entries)
    present = set(entries)
    reached, chains = dict(progress.reached), dict(progress.chains)
    newest, dropped = progress.newest, progress.dropped
    done: list[StepCompletion] = []
    days: set[int] = set()
    keys: set[PartitionKey] = set()
    for entry in entries_of(funnel, batch):
        t = entry[0]
        limit = cutoff(funnel, newest)
        if limit is not None and t < limit:
            dropped += 1
            continue
        if newest is None or t > newest:
            keys |= _advance_newest(funnel, chains, reached, entry, done)
        elif entry not in present:
            days.update(range(funnel.day_of(t - funnel.window_s), funnel.day_of(t) + 1))
        if entry not in present:
            present.add(entry)
            insort(entries, entry)
        newest = t if newest is None else max(newest, t)
    if len(entries) > funnel.max_entries:
        entries = entries[-funnel.max_entries :]
    progress = FunnelProgress(tuple(entries), reached, newest, dropped, chains)
    if days or keys:
        progress, more = settle(funnel, progress, days, keys)
        return progress, done + more
    return close(funnel, progress), done


def merge(a: FunnelProgress | None, b: FunnelProgress | None) -> FunnelProgress:
    """The progress of two users found to be one person: entries unite, levels keep the max.

    Call :func:`settle` afterwards to report steps reached only by the union.
    """
    if a is None or b is None:
        return a or b or FunnelProgress()
    reached = dict(a.reached)
    for key, level in b.reached.items():
        reached[key] = max(level, reached.get(key, 0))
    newest = max((t for t in (a.newest, b.newest) if t is not None), default=None)
    return FunnelProgress(
        entries=tuple(sorted(set(a.entries) | set(b.entries))),
        reached=reached,
        newest=newest,
        dropped=a.dropped + b.dropped,
    )  # chains are dropped: settle() recomputes them for the union
