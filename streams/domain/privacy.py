"""Suppression of forgotten people in later events (pure).

After a forget, the person's identities are kept only as suppression keys (SHA-256 of
project, identity type and value; never in clear). An event carrying one of them is
dropped (``drop``, the default) or stored without those identities (``anonymise``);
an event left with no identity gets a one-off anonymous id derived from its event id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, Literal

from streams.domain.identity_rules import IdentityRules

__all__ = ["LaterEvents", "screen", "suppression_key", "suppression_keys"]

LaterEvents = Literal["drop", "anonymise"]


def suppression_key(project: str, id_type: str, id_value: str) -> str:
    return hashlib.sha256(f"{project}\x1f{id_type}\x1f{id_value}".encode()).hexdigest()


def suppression_keys(rules: IdentityRules, project: str, id_type: str, id_value: str) -> set[str]:
    """Keys of an identity as sent and as normalized (the graph's form)."""
    keys = {suppression_key(project, id_type, id_value)}
    normalized = rules.normalize(id_type, id_value)
    if normalized is not None:
        keys.add(suppression_key(project, normalized.key, normalized.value))
    return keys


def screen(
    rules: IdentityRules,
    project: str,
    events: Iterable[dict[str, Any]],
    suppressed: Callable[[str], bool],
    mode: LaterEvents,
) -> tuple[list[dict[str, Any]], int]:
    """``(events to keep, events dropped or anonymised)``; kept events may be changed."""
    kept: list[dict[str, Any]] = []
    hit = 0
    for event in events:
        identities: dict[str, str] = event["identities"]
        forgotten = [
            k
            for k, v in identities.items()
            if any(suppressed(s) for s in suppression_keys(rules, project, k, v))
        ]
        if not forgotten:
            kept.append(event)
            continue
        hit += 1
        if mode == "drop":
            continue
        left = {k: v for k, v in identities.items() if k not in forgotten}
        if not left:
            digest = hashlib.sha256(str(event["event_id"]).encode()).hexdigest()[:24]
            left = {"anonymous_id": f"forgotten-{digest}"}
        kept.append({**event, "identities": left})
    return kept, hit
