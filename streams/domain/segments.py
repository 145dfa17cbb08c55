"""Live segments: named CEL expressions over a user's ``tags`` and ``properties``.

A user is a member of a segment while its expression is true for them. Membership is
recomputed whenever the user's tags or properties are (every event, timer tick, merge)
and when the definitions change; :func:`membership_changes` turns two memberships into
``enter`` / ``exit`` records. An expression that fails for a user (a missing key, a type
mismatch) leaves the user out of that segment and is reported, never raised.

Definitions belong to every project unless they name the projects they are for; a
definition made at run time for one project replaces a shipped one of the same name for
that project only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import cel

__all__ = [
    "SEGMENT_VARIABLES",
    "SegmentChange",
    "SegmentDef",
    "SegmentError",
    "SegmentSet",
    "compile_segment",
    "evaluate_segments",
    "membership_changes",
]

SEGMENT_VARIABLES = frozenset({"tags", "properties", "now"})
"""What a segment expression sees: ``tags`` and ``properties`` (maps), ``now`` (epoch ms)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_POSITION = re.compile(r"<input>:(\d+):(\d+):")


class SegmentError(ValueError):
    """A definition that cannot be used; ``line``/``column`` locate a CEL syntax error."""

    def __init__(self, reason: str, *, line: int = 0, column: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.line, self.column = reason, line, column


@dataclass(frozen=True, slots=True)
class SegmentDef:
    name: str
    expression: str
    program: Any = field(compare=False, repr=False)
    description: str = ""
    projects: frozenset[str] = frozenset()
    """Projects it applies to; empty: every project."""
    updated_at: int = 0

    def applies_to(self, project: str) -> bool:
        return not self.projects or project in self.projects


@dataclass(frozen=True, slots=True)
class SegmentChange:
    """A user entered or left a segment; ``cause`` as for tag changes."""

    user_id: str
    segment: str
    change: Literal["enter", "exit"]
    at: int
    cause: str


def compile_segment(
    name: str,
    expression: str,
    *,
    description: str = "",
    projects: Iterable[str] = (),
    updated_at: int = 0,
) -> SegmentDef:
    """Check and compile one definition; raise :class:`SegmentError` with the reason."""
    if not _NAME.match(name):
        raise SegmentError(
            f"segment name {name!r} must be lower case letters, digits and _ (max 64)"
        )
    try:
        program = cel.compile(expression)
    except ValueError as exc:
        text = str(exc)
        found = _POSITION.search(text)
        line, column = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
        detail = text.split(": ", 2)[-1].splitlines()[0] if found else text.splitlines()[0]
        raise SegmentError(
            f"segment {name!r}: invalid CEL at {line}:{column}: {detail}", line=line, column=column
        ) from exc
    unknown = sorted(set(program.variables()) - SEGMENT_VARIABLES)
    if unknown:
        raise SegmentError(
            f"segment {name!r}: unknown variable(s) {', '.join(unknown)} "
            "(expressions see tags, properties and now)"
        )
    return SegmentDef(name, expression, program, description, frozenset(projects), updated_at)


@dataclass(frozen=True, slots=True)
class SegmentSet:
    """The shipped (file) definitions and those made at run time, per project."""

    shipped: tuple[SegmentDef, ...] = ()
    runtime: Mapping[str, Mapping[str, SegmentDef]] = field(default_factory=dict)
    """Project → name → definition made at run time."""

    def for_project(self, project: str) -> tuple[SegmentDef, ...]:
        """Definitions in force for ``project``, by name."""
        mine = dict(self.runtime.get(project, {}))
        out = {d.name: d for d in self.shipped if d.applies_to(project) and d.name not in mine}
        out.update(mine)
        return tuple(out[n] for n in sorted(out))

    def with_runtime(self, project: str, definition: SegmentDef | None, name: str) -> SegmentSet:
        """A copy with ``name`` made (or, with None, removed) at run time for ``project``."""
        per = {p: dict(d) for p, d in self.runtime.items()}
        mine = per.setdefault(project, {})
        if definition is None:
            mine.pop(name, None)
        else:
            mine[name] = definition
        return replace(self, runtime=per)

    def with_shipped(self, shipped: tuple[SegmentDef, ...]) -> SegmentSet:
        return replace(self, shipped=shipped)

    def fingerprint(self) -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
        """Changes whenever any definition's meaning changes (to trigger re-evaluation)."""
        rows = [("*", d.name, d.expression, tuple(sorted(d.projects))) for d in self.shipped]
        rows += [
            (p, d.name, d.expression, ()) for p, defs in self.runtime.items() for d in defs.values()
        ]
        return tuple(sorted(rows))


def evaluate_segments(
    definitions: Iterable[SegmentDef],
    tags: Mapping[str, Any],
    properties: Mapping[str, Any],
    now: int,
) -> tuple[list[str], list[tuple[str, str]]]:
    """The segments (sorted) a user with these tags and properties belongs to, and
    ``(segment, reason)`` for each expression that failed for them."""
    members: list[str] = []
    errors: list[tuple[str, str]] = []
    variables = {"tags": dict(tags), "properties": dict(properties), "now": now}
    for d in definitions:
        try:
            value = d.program.execute(variables)
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:
            errors.append((d.name, f"{type(exc).__name__}: {exc}"))
            continue
        if not isinstance(value, bool):
            errors.append((d.name, f"a segment must give a bool, got {type(value).__name__}"))
        elif value:
            members.append(d.name)
    return sorted(members), errors


def membership_changes(
    user_id: str, old: Iterable[str], new: Iterable[str], at: int, cause: str
) -> list[SegmentChange]:
    """Exits then enters, each in segment-name order."""
    before, after = set(old), set(new)
    exits = [SegmentChange(user_id, s, "exit", at, cause) for s in sorted(before - after)]
    enters = [SegmentChange(user_id, s, "enter", at, cause) for s in sorted(after - before)]
    return exits + enters
