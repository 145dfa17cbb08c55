"""Checks over loaded YAML documents that remember where each value came from, for errors
naming file and line.

Used by the tag definition and live-code registry parsers: every check that fails raises
:class:`DefinitionError` with the file, the 1-based line and the reason. The funnel and
segment files find the line of a reported problem with ``line_at``. Reading the YAML
itself happens outside the domain (``streams/yaml_source.py``): nodes only need to carry
their position (``lc``), which ``line_of`` reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from siyu.exceptions import TrackingError
from streams.domain.tag_definitions import DAY_MS

__all__ = [
    "DefinitionError",
    "Include",
    "SourceFile",
    "check_keys",
    "convert",
    "get",
    "get_names",
    "line_at",
    "line_of",
    "mapping",
    "parse_duration",
]

Include = Callable[[str], tuple[Any, str]]
"""Relative file name → (its loaded document, source name for messages). Raises
``OSError`` when the file cannot be read, :class:`DefinitionError` when it is not YAML."""

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": DAY_MS}


class DefinitionError(TrackingError):
    """A tag definition file that cannot be used: ``file:line: reason``."""

    def __init__(self, reason: str, *, file: str, line: int) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.reason, self.file, self.line = reason, file, line


def parse_duration(raw: object) -> int:
    """``"7d"``, ``"24h"``, ``"90m"``, ``"3s"``, ``"500ms"`` → milliseconds."""
    found = _DURATION.match(str(raw).strip()) if isinstance(raw, str) else None
    if found is None:
        raise ValueError(f"expected a duration such as 7d, 24h, 30m, 3s or 500ms, got {raw!r}")
    return round(float(found.group(1)) * _UNITS[found.group(2)])


class SourceFile:
    def __init__(self, name: str, include: Include | None) -> None:
        self.name, self.include = name, include

    def fail(self, line: int, reason: str) -> NoReturn:
        raise DefinitionError(reason, file=self.name, line=line)


def line_of(node: Any, key: Any = None) -> int:
    lc = getattr(node, "lc", None)
    if lc is None:
        return 0
    if key is None:
        return int(lc.line) + 1
    found = lc.key(key) if isinstance(node, Mapping) else lc.item(key)
    return int(found[0]) + 1


def line_at(node: Any, path: Sequence[object]) -> int:
    """Line of the value at ``path`` (keys and list indexes) under ``node``: the line of its
    key in a mapping, of the item in a list; the nearest parent's when the path leads
    nowhere; 0 when ``node`` carries no position."""
    line = line_of(node)
    for part in path:
        if isinstance(node, Mapping):
            found = part in node
        else:
            found = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not found:
            break
        line, node = line_of(node, part), node[part]
    return line


def check_keys(f: SourceFile, node: Mapping[str, Any], where: str, allowed: frozenset[str]) -> None:
    for name in node:
        if name not in allowed:
            expected = ", ".join(sorted(allowed))
            f.fail(
                line_of(node, name), f"{where}: unknown key {name!r} (expected one of {expected})"
            )


def mapping(
    f: SourceFile, parent: Any, key: str, allowed: frozenset[str] | None = None
) -> Mapping[str, Any]:
    node = parent[key]
    if not isinstance(node, Mapping):
        f.fail(line_of(parent, key), f"{key}: expected a mapping")
    if allowed is not None:
        check_keys(f, node, key, allowed)
    return node


def get(f: SourceFile, node: Mapping[str, Any], key: str, kind: str, default: Any) -> Any:
    """``node[key]`` checked and converted by kind; ``default`` when absent."""
    if key not in node:
        return default
    raw, line = node[key], line_of(node, key)
    try:
        return convert(raw, kind)
    except (ValueError, TypeError) as exc:
        f.fail(line, f"{key}: {exc}")


def get_names(
    f: SourceFile, node: Mapping[str, Any], key: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    """``node[key]`` as one name or a list of names; ``default`` when absent."""
    if isinstance(node.get(key), str):
        return (get(f, node, key, "str", ""),)
    names: tuple[str, ...] = get(f, node, key, "strs", default)
    return names


def convert(raw: Any, kind: str) -> Any:
    if kind == "duration":
        return parse_duration(raw)
    if kind == "days":
        ms = parse_duration(raw)
        if ms % DAY_MS or ms <= 0:
            raise ValueError(f"expected whole days such as 7d, got {raw!r}")
        return ms // DAY_MS
    if kind in ("int", "number"):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise TypeError(f"expected a number, got {raw!r}")
        if kind == "int" and (not isinstance(raw, int) or raw < 1):
            raise ValueError(f"expected a whole number ≥ 1, got {raw!r}")
        return raw
    if kind == "str":
        if not isinstance(raw, str) or not raw:
            raise TypeError(f"expected text, got {raw!r}")
        return raw
    if kind == "strs":
        if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
            raise TypeError(f"expected a list of names, got {raw!r}")
        return tuple(raw)
    if kind == "numbers":
        if not isinstance(raw, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw
        ):
            raise TypeError(f"expected a list of numbers, got {raw!r}")
        if list(raw) != sorted(raw) or len(set(raw)) != len(raw):
            raise ValueError("thresholds must be strictly ascending")
        return tuple(raw)
    raise AssertionError(kind)  # pragma: no cover - programming error
