"""One user's funnel state as stored in the stream tables (JSON documents).

``funnel_progress`` (keyed by user id, on ``events.stitched`` partitions) holds, per
ordered funnel, the user's :class:`~streams.domain.funnels.FunnelProgress` and their
invitee attribution for the fission funnel. ``fission_sharers`` (keyed by user id, on
``funnels.fission`` partitions) holds their :class:`~streams.domain.fission.SharerState`.
These functions are what the agents call: decode, apply, encode, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.domain import fission
from streams.domain.events import TrackEvent
from streams.domain.fission import FissionSignal, InviteeState, SharerOutputs, SharerState
from streams.domain.funnel_defs import FunnelSet
from streams.domain.funnels import FunnelProgress, StepCompletion, advance, settle
from streams.domain.funnels import merge as merge_progress
from streams.domain.identity_rules import Identity, IdentityRules

__all__ = [
    "GENERIC_IDENTITY_TYPES",
    "apply_events",
    "apply_signals",
    "merge_sharer_docs",
    "merge_user_docs",
    "settle_sharer",
    "settle_user",
    "sharer_candidates",
    "sharer_identities",
]

# Identity types a bare shared id may be, after the namespaced keys of the event itself.
GENERIC_IDENTITY_TYPES = (
    "login_id",
    "member_id",
    "wx_unionid",
    "anonymous_id",
    "cookie_id",
    "device_id",
    "mobile",
)

Doc = dict[str, Any]


def sharer_candidates(event: TrackEvent) -> list[str]:
    """Identity keys a bare shared id may belong to, most likely first: the event's own
    identity keys (a mini-program share carries an openid of the same appid), then the
    generic types."""
    keys = sorted(k for k in event.identities if ":" in k)
    return [*keys, *(t for t in GENERIC_IDENTITY_TYPES if t not in keys)]


def sharer_identities(rules: IdentityRules, event: TrackEvent, shared: str) -> list[Identity]:
    """The identities a bare shared id may be, normalized as the identity graph stores
    them (an anonymous id is kept lowercased, so a link naming it with capitals or
    spaces still finds its owner), most likely first; junk values give none."""
    out: list[Identity] = []
    for key in sharer_candidates(event):
        identity = rules.normalize(key, shared)
        if identity is not None and identity not in out:
            out.append(identity)
    return out


def apply_events(
    defs: FunnelSet,
    doc: Doc | None,
    user_id: str,
    events: Sequence[TrackEvent],
    sharers: Mapping[str, str],
) -> tuple[Doc, list[StepCompletion], list[FissionSignal]]:
    """A user's events through every ordered funnel and the fission attribution."""
    doc = doc or {"f": {}, "a": None}
    progress: dict[str, Any] = dict(doc["f"])
    done: list[StepCompletion] = []
    for funnel in defs.ordered:
        state, found = advance(funnel, FunnelProgress.from_json(progress.get(funnel.name)), events)
        if state.entries or funnel.name in progress:
            progress[funnel.name] = state.to_json()
        done.extend(found)
    invitee, signals = doc["a"], list[FissionSignal]()
    if defs.fission_funnel is not None:
        state_a, signals = fission.attribute(
            defs.fission_funnel,
            defs.fission,
            InviteeState.from_json(doc["a"]),
            user_id,
            events,
            sharers,
        )
        invitee = state_a.to_json() if state_a != InviteeState() else None
    return {"f": progress, "a": invitee}, done, signals


def merge_user_docs(survivor: Doc | None, loser: Doc | None) -> Doc:
    """Pure merge of two users' ``funnel_progress`` documents (identity merge)."""
    if survivor is None or loser is None:
        return survivor or loser or {"f": {}, "a": None}
    progress = dict(survivor["f"])
    for name, raw in loser["f"].items():
        merged = merge_progress(
            FunnelProgress.from_json(progress.get(name)), FunnelProgress.from_json(raw)
        )
        progress[name] = merged.to_json()
    a, b = survivor["a"], loser["a"]
    invitee = fission.merge_invitee(InviteeState.from_json(a), InviteeState.from_json(b))
    return {"f": progress, "a": invitee.to_json() if a or b else None}


def settle_user(defs: FunnelSet, doc: Doc) -> tuple[Doc, list[StepCompletion]]:
    """Steps reached only now that two users' entries are together (after a merge)."""
    progress = dict(doc["f"])
    done: list[StepCompletion] = []
    for funnel in defs.ordered:
        if funnel.name not in progress:
            continue
        state, found = settle(funnel, FunnelProgress.from_json(progress[funnel.name]))
        progress[funnel.name] = state.to_json()
        done.extend(found)
    return {**doc, "f": progress}, done


def apply_signals(
    defs: FunnelSet, doc: Doc | None, user_id: str, signals: Sequence[FissionSignal]
) -> tuple[Doc | None, SharerOutputs]:
    """Fission signals addressed to ``user_id`` through their sharer state."""
    if defs.fission_funnel is None:
        return doc, SharerOutputs()
    state, out = fission.absorb(
        defs.fission_funnel, defs.fission, SharerState.from_json(doc), user_id, signals
    )
    return state.to_json(), out


def merge_sharer_docs(survivor: Doc | None, loser: Doc | None) -> Doc:
    """Pure merge of two users' ``fission_sharers`` documents (identity merge)."""
    merged = fission.merge_sharer(
        SharerState.from_json(survivor) if survivor else None,
        SharerState.from_json(loser) if loser else None,
    )
    return merged.to_json()


def settle_sharer(defs: FunnelSet, doc: Doc, user_id: str) -> tuple[Doc | None, SharerOutputs]:
    """Levels and rewards reached only now that two sharers are one (after a merge)."""
    return apply_signals(defs, doc, user_id, [])
