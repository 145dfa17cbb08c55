"""User properties: the per-user property document and the ``profile_*`` operations.

A document is a JSON-compatible dict ``{"values": {key: value}, "meta": {key: [at, op]}}``
kept inside the user's profile. ``at`` is the event time that last decided the key and
``op`` how it was written, which is what the merge rules need:

- ``set``: last writer wins by event time (an older ``profile_set`` arriving late is ignored);
- ``once`` (``profile_set_once``): written only when the key is absent; on a merge the
  older write is kept;
- ``inc`` (``profile_increment``): numbers add, also on a merge;
- ``append`` (``profile_append``): lists of strings, united (order of first appearance);
- ``profile_unset`` removes the listed keys, ``profile_delete`` the whole document.

An operation whose value has the wrong type for its key (incrementing a string, appending
to a number, an object as a value) rejects the whole event with a reason: the caller keeps
it as a dead letter and applies the rest. Pure: the functions take the time from the
event and never modify their arguments except where stated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "PROPERTY_TYPES",
    "PropertyDoc",
    "apply_operation",
    "merge_properties",
    "new_properties",
    "property_values",
]

PropertyDoc = dict[str, Any]

_OPS: Final[Mapping[str, str]] = {
    "profile_set": "set",
    "profile_set_once": "once",
    "profile_increment": "inc",
    "profile_append": "append",
    "profile_unset": "unset",
    "profile_delete": "delete",
}
PROPERTY_TYPES: Final[frozenset[str]] = frozenset(_OPS)
"""Event types that update the property document instead of counting as behaviour."""


def new_properties() -> PropertyDoc:
    return {"values": {}, "meta": {}}


def property_values(doc: Any) -> dict[str, Any]:
    """The current properties (what the lookup API and CEL expressions see)."""
    if not doc:
        return {}
    return dict(doc.get("values", {}))


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _strings(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _check(op: str, key: str, value: object, held: dict[str, Any]) -> str | None:
    """Why ``op`` of ``value`` cannot apply to ``key`` (None: it can)."""
    current = held.get(key)
    if op in ("set", "once"):
        if _scalar(value) or _strings(value) is not None:
            return None
        return f"{key}: a property value must be a string, number, boolean or list of strings"
    if op == "inc":
        if not _number(value):
            return f"{key}: profile_increment needs a number, got {type(value).__name__}"
        if key in held and not _number(current):
            return f"{key}: cannot increment a {type(current).__name__} property"
        return None
    if _strings(value) is None:
        return f"{key}: profile_append needs a string or a list of strings"
    if key in held and not isinstance(current, list):
        return f"{key}: cannot append to a {type(current).__name__} property"
    return None


def apply_operation(doc: Any, event_type: str, values: Mapping[str, Any], at: int) -> str | None:
    """Apply one ``profile_*`` event to ``doc`` in place; return why it was rejected.

    A rejected event changes nothing. ``doc`` must be a document from
    :func:`new_properties` (or an older stored one).
    """
    op = _OPS[event_type]
    held: dict[str, Any] = doc["values"]
    meta: dict[str, list[Any]] = doc["meta"]
    if op == "delete":
        held.clear()
        meta.clear()
        return None
    if op == "unset":
        keys = list(values) if isinstance(values, Mapping) else []
        for key in keys:
            held.pop(key, None)
            meta.pop(key, None)
        return None
    reasons = [r for k, v in values.items() if (r := _check(op, k, v, held)) is not None]
    if reasons:
        return "; ".join(reasons)
    for key, value in values.items():
        _write(op, key, value, at, held, meta)
    return None


def _write(
    op: str, key: str, value: Any, at: int, held: dict[str, Any], meta: dict[str, list[Any]]
) -> None:
    if op == "set":
        if key in meta and meta[key][0] > at:
            return  # a newer write already decided this key
        held[key] = value
        meta[key] = [at, "set"]
    elif op == "once":
        if key not in held:
            held[key] = value
            meta[key] = [at, "once"]
    elif op == "inc":
        held[key] = held.get(key, 0) + value
        meta[key] = [max(at, meta.get(key, [0])[0]), "inc"]
    else:
        items = list(held.get(key, []))
        items += [v for v in dict.fromkeys(_strings(value) or []) if v not in items]
        held[key] = items
        meta[key] = [max(at, meta.get(key, [0])[0]), "append"]


def merge_properties(survivor: Any, loser: Any) -> PropertyDoc:
    """The property document of two merged users (pure).

    Per key held by both: increments add, appended lists unite (survivor's first),
    set-once keeps the older write, and otherwise the later write by event time wins
    (the survivor's on a tie).
    """
    a = survivor or new_properties()
    b = loser or new_properties()
    values: dict[str, Any] = dict(a["values"])
    meta: dict[str, list[Any]] = {k: list(v) for k, v in a["meta"].items()}
    for key, value in b["values"].items():
        their = b["meta"].get(key, [0, "set"])
        if key not in values:
            values[key], meta[key] = value, list(their)
            continue
        ours = meta.get(key, [0, "set"])
        mine = values[key]
        if ours[1] == their[1] == "inc" and _number(mine) and _number(value):
            values[key] = mine + value
            meta[key] = [max(ours[0], their[0]), "inc"]
        elif isinstance(mine, list) and isinstance(value, list):
            values[key] = mine + [v for v in value if v not in mine]
            meta[key] = [max(ours[0], their[0]), ours[1]]
        elif "once" in (ours[1], their[1]):
            if their[0] < ours[0]:
                values[key], meta[key] = value, list(their)
        elif their[0] > ours[0]:
            values[key], meta[key] = value, list(their)
    return {"values": values, "meta": meta}
