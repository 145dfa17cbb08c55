"""Share chains, invitee attribution and referral rewards (the fission funnel).

Two pure stages, because a referral spans two users on two partitions:

1. :func:`attribute` runs on the *invitee's* state (keyed by the user who sent the
   events). It turns the user's events into :class:`FissionSignal` s addressed to the
   user they concern: a ``share`` by the user to the user, a visit carrying someone's
   share to that sharer, and later invitee steps (register, first order …) to the
   inviter credited by the configured attribution (first or last touch).
2. :func:`absorb` runs on the *sharer's* state (keyed by the signal's ``to``). It keeps
   the sharer's shares and, per invitee, the invitee's step entries, and yields fission
   funnel completions (level = the best invitee chain, windowFunnel semantics per share
   day), share edges with depth and root inviter (first touch builds the tree), and
   reward tag changes when the successful-invite count crosses a threshold.

Both stages are idempotent: entries and invitees are sets, so a signal applied twice
changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from streams.domain.events import TrackEvent
from streams.domain.funnel_defs import FissionConfig
from streams.domain.funnel_model import (
    Funnel,
    as_number,
    as_string,
    dimension_value,
    field_value,
    step_mask,
)
from streams.domain.funnels import (
    Entry,
    FunnelProgress,
    StepCompletion,
    add_entries,
    close,
    cutoff,
    settle,
)
from streams.domain.funnels import merge as merge_progress

__all__ = [
    "FissionEdge",
    "FissionSignal",
    "InviteeState",
    "RewardChange",
    "SharerOutputs",
    "SharerState",
    "Touch",
    "absorb",
    "attribute",
    "merge_invitee",
    "merge_sharer",
    "share_of",
]


@dataclass(frozen=True, slots=True)
class Touch:
    """A visit of the invitee carrying ``sharer``'s share."""

    sharer: str
    t: int
    """Event time, epoch ms (touches are ordered to the millisecond)."""
    depth: int
    campaign: str


@dataclass(frozen=True, slots=True)
class InviteeState:
    first: Touch | None = None
    last: Touch | None = None
    seen_once: frozenset[int] = frozenset()
    """Steps marked ``first`` already seen (only the first such event counts)."""

    def to_json(self) -> dict[str, Any]:
        def touch(x: Touch | None) -> list[Any] | None:
            return None if x is None else [x.sharer, x.t, x.depth, x.campaign]

        return {"f": touch(self.first), "l": touch(self.last), "s": sorted(self.seen_once)}

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> InviteeState:
        if not doc:
            return cls()
        first, last = doc["f"], doc["l"]
        return cls(
            first=Touch(*first) if first else None,
            last=Touch(*last) if last else None,
            seen_once=frozenset(doc["s"]),
        )


@dataclass(frozen=True, slots=True)
class FissionSignal:
    """Something the user ``to`` must know about, as a sharer (or about their inviter)."""

    to: str
    kind: Literal["share", "invitee", "inviter"]
    t: int
    """Event time, epoch seconds."""
    invitee: str = ""
    step: int = 0
    """1-based fission step reached by ``invitee`` (kind ``invitee``)."""
    depth: int = 0
    campaign: str = ""
    bvals: tuple[str, ...] = ()
    """Breakdown values of a share (kind ``share``)."""
    inviter: str = ""
    root: str = ""


@dataclass(frozen=True, slots=True)
class FissionEdge:
    """Invitee ``invitee`` of ``sharer`` reached ``step`` (first time, for this sharer)."""

    sharer: str
    invitee: str
    step: int
    step_name: str
    time: int
    """Epoch seconds."""
    depth: int
    root: str
    campaign: str


@dataclass(frozen=True, slots=True)
class RewardChange:
    """The sharer's reward tag moved from ``old`` to ``new`` successful invites;
    ``invitee`` made it happen (empty when a merge of two sharers did)."""

    user_id: str
    tag: str
    old: int | None
    new: int
    t: int
    invitee: str


def share_of(event: TrackEvent) -> tuple[str, int] | None:
    """The (sharer identity, depth) an event carries: ``context.share`` or Sensors' props."""
    share = field_value(event, ("context", "share"))
    sharer = as_string(share.get("sharer")) if isinstance(share, Mapping) else ""
    depth: Any = share.get("depth") if isinstance(share, Mapping) else None
    if not sharer:
        sharer = as_string(event.properties.get("$share_distinct_id"))
        depth = event.properties.get("$share_depth")
    if not sharer:
        return None
    return sharer, max(1, int(as_number(depth)) if depth is not None else 1)


def _campaign(event: TrackEvent) -> str:
    for path in (("context", "share", "campaign"), ("context", "utm", "campaign")):
        value = as_string(field_value(event, path))
        if value:
            return value
    return as_string(event.properties.get("campaign"))


def attribute(
    funnel: Funnel,
    config: FissionConfig,
    state: InviteeState | None,
    user_id: str,
    events: Sequence[TrackEvent],
    sharers: Mapping[str, str],
) -> tuple[InviteeState, list[FissionSignal]]:
    """Stage 1: the signals a user's events send. ``sharers`` maps a shared identity
    (see :func:`share_of`) to its user id; unresolved shares are ignored."""
    state = state or InviteeState()
    signals: list[FissionSignal] = []
    for event in events:
        mask = step_mask(funnel, event)
        if not mask:
            continue
        t = event.time // 1000
        if mask & 1:
            bvals = tuple(dimension_value(d, event) for d in funnel.breakdown)
            signals.append(
                FissionSignal(user_id, "share", t, campaign=_campaign(event), bvals=bvals)
            )
        share = share_of(event)
        sharer = sharers.get(share[0]) if share else None
        if mask & 2 and share and sharer and sharer != user_id:
            touch = Touch(sharer, event.time, share[1], _campaign(event))
            first = state.first if state.first and state.first.t <= event.time else touch
            last = state.last if state.last and state.last.t > event.time else touch
            state = replace(state, first=first, last=last)
            signals.append(
                FissionSignal(sharer, "invitee", t, user_id, 2, share[1], touch.campaign)
            )
        for k in range(2, funnel.size):
            if not mask >> k & 1:
                continue
            if funnel.steps[k].first:
                if k in state.seen_once:
                    continue
                state = replace(state, seen_once=state.seen_once | {k})
            credit = state.first if config.attribution == "first" else state.last
            if credit is not None:
                signals.append(
                    FissionSignal(
                        credit.sharer, "invitee", t, user_id, k + 1, credit.depth, credit.campaign
                    )
                )
    return state, signals


def merge_invitee(a: InviteeState | None, b: InviteeState | None) -> InviteeState:
    """Two users found to be one: earliest first touch, latest last touch."""
    if a is None or b is None:
        return a or b or InviteeState()
    firsts = [x for x in (a.first, b.first) if x is not None]
    lasts = [x for x in (a.last, b.last) if x is not None]
    return InviteeState(
        first=min(firsts, key=lambda x: x.t) if firsts else None,
        last=max(lasts, key=lambda x: x.t) if lasts else None,
        seen_once=a.seen_once | b.seen_once,
    )


@dataclass(frozen=True, slots=True)
class SharerState:
    shares: FunnelProgress = field(default_factory=FunnelProgress)
    """The user's share entries (step 1) and the fission levels reported per share day."""
    invitees: Mapping[str, tuple[Entry, ...]] = field(default_factory=dict)
    """Per invitee, their entries of steps 2.. (kept while a share day is open)."""
    seen: Mapping[str, int] = field(default_factory=dict)
    """Per invitee, the mask of steps already reported as edges."""
    inviter: str = ""
    root: str = ""
    depth: int = 0
    successes: frozenset[str] = frozenset()
    rewarded: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "p": self.shares.to_json(),
            "i": {u: [[t, m] for t, m, _ in es] for u, es in self.invitees.items()},
            "s": dict(self.seen),
            "a": [self.inviter, self.root, self.depth],
            "w": sorted(self.successes),
            "r": list(self.rewarded),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> SharerState:
        if not doc:
            return cls()
        inviter, root, depth = doc["a"]
        return cls(
            shares=FunnelProgress.from_json(doc["p"]),
            invitees={u: tuple((t, m, ()) for t, m in es) for u, es in doc["i"].items()},
            seen=doc["s"],
            inviter=inviter,
            root=root,
            depth=depth,
            successes=frozenset(doc["w"]),
            rewarded=tuple(doc["r"]),
        )


@dataclass(frozen=True, slots=True)
class SharerOutputs:
    completions: list[StepCompletion] = field(default_factory=list)
    edges: list[FissionEdge] = field(default_factory=list)
    rewards: list[RewardChange] = field(default_factory=list)
    signals: list[FissionSignal] = field(default_factory=list)
    """``inviter`` signals telling invitees who their inviter and root are."""


def _levels(
    funnel: Funnel, shares: FunnelProgress, invitees: Mapping[str, Sequence[Entry]]
) -> tuple[FunnelProgress, list[StepCompletion]]:
    """Fission levels per share day: the best chain over all invitees (and 1 for a share)."""
    shares = close(funnel, shares)
    reached = shares.reached
    done: list[StepCompletion] = []
    for entries in [(), *invitees.values()]:
        combined = tuple(sorted({*shares.entries, *entries}))
        trial, found = settle(funnel, replace(shares, entries=combined, reached=reached))
        reached = trial.reached
        done.extend(found)
    closed, _ = settle(funnel, replace(shares, reached=reached))
    return closed, done


def absorb(
    funnel: Funnel,
    config: FissionConfig,
    state: SharerState | None,
    user_id: str,
    signals: Iterable[FissionSignal],
) -> tuple[SharerState, SharerOutputs]:
    """Stage 2: apply signals addressed to ``user_id`` and report what changed."""
    state = state or SharerState()
    out = SharerOutputs()
    shares, invitees, seen = state.shares, dict(state.invitees), dict(state.seen)
    successes, rewarded = set(state.successes), list(state.rewarded)
    success_step = 1 + [s.name for s in funnel.steps].index(config.success_step)
    for sig in signals:
        if sig.kind == "inviter":
            if not state.inviter and sig.inviter != user_id:
                state = replace(state, inviter=sig.inviter, root=sig.root, depth=sig.depth)
            continue
        if sig.kind == "share":
            shares, _ = add_entries(funnel, shares, [(sig.t, 1, sig.bvals)])
            continue
        edge_depth, edge_root = state.depth + 1, state.root or user_id
        bit = 1 << (sig.step - 1)
        known = seen.get(sig.invitee, 0)
        if not known:
            out.signals.append(
                FissionSignal(
                    sig.invitee, "inviter", sig.t, inviter=user_id, root=edge_root, depth=edge_depth
                )
            )
        if not known & bit:
            seen[sig.invitee] = known | bit
            name = funnel.steps[sig.step - 1].name
            out.edges.append(
                FissionEdge(
                    user_id, sig.invitee, sig.step, name, sig.t, edge_depth, edge_root, sig.campaign
                )
            )
        if sig.step == success_step and sig.invitee not in successes:
            successes.add(sig.invitee)
            _reward(config, user_id, len(successes), sig.t, sig.invitee, rewarded, out)
        limit = cutoff(funnel, shares.newest)
        if limit is not None and sig.t < limit:
            continue
        invitees[sig.invitee] = tuple(sorted({*invitees.get(sig.invitee, ()), (sig.t, bit, ())}))
        shares = replace(shares, newest=max(shares.newest or sig.t, sig.t))
    # Merged sharers may already stand past a threshold.
    _reward(config, user_id, len(successes), shares.newest or 0, "", rewarded, out)
    shares, completions = _levels(funnel, shares, invitees)
    out.completions.extend(completions)
    limit = cutoff(funnel, shares.newest)
    kept = {
        u: es2
        for u, es in invitees.items()
        if (es2 := tuple(e for e in es if limit is None or e[0] >= limit))
    }
    state = replace(
        state,
        shares=shares,
        invitees=kept,
        seen=seen,
        successes=frozenset(successes),
        rewarded=tuple(rewarded),
    )
    return state, out


def _reward(
    config: FissionConfig,
    user_id: str,
    count: int,
    t: int,
    invitee: str,
    rewarded: list[int],
    out: SharerOutputs,
) -> None:
    for threshold in config.rewards:
        if count >= threshold and threshold not in rewarded:
            old = max(rewarded, default=None)
            out.rewards.append(RewardChange(user_id, config.reward_tag, old, threshold, t, invitee))
            rewarded.append(threshold)


def merge_sharer(a: SharerState | None, b: SharerState | None) -> SharerState:
    """Two sharers found to be one: shares, invitees and successes unite."""
    if a is None or b is None:
        return a or b or SharerState()
    invitees = dict(a.invitees)
    for u, es in b.invitees.items():
        invitees[u] = tuple(sorted({*invitees.get(u, ()), *es}))
    seen = dict(a.seen)
    for u, m in b.seen.items():
        seen[u] = seen.get(u, 0) | m
    keep = a if a.inviter or not b.inviter else b
    return SharerState(
        shares=merge_progress(a.shares, b.shares),
        invitees=invitees,
        seen=seen,
        inviter=keep.inviter,
        root=keep.root,
        depth=keep.depth,
        successes=a.successes | b.successes,
        rewarded=tuple(sorted(set(a.rewarded) | set(b.rewarded))),
    )
