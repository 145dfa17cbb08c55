"""Reading the YAML definition files (tags, live-code registry, funnels, segments).

ruamel.yaml is the one YAML library of the project, and files are read as YAML 1.2
(``yes``/``no``/``on``/``off`` are text, only ``true``/``false`` are booleans). The parsers
in ``streams/domain`` receive documents whose nodes remember their line (ruamel
round-trip nodes, read through ``line_of`` and ``line_at``), so every mistake they find
names file and line; a file that is not YAML at all fails here the same way. ``plain``
turns such a document into plain dicts, lists and scalars for parsers that hand values
on (pydantic models, JSON, CEL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from streams.domain.located_yaml import DefinitionError, Include

__all__ = ["load_yaml", "plain", "yaml_include"]


def load_yaml(text: str, source: str) -> Any:
    """The document of ``text``; raise :class:`DefinitionError` (``source``, line) when
    it is not valid YAML."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        reason = f"not valid YAML: {exc.problem or exc.context}"
        raise DefinitionError(reason, file=source, line=line) from exc
    except YAMLError as exc:  # unreadable characters: no position to report
        raise DefinitionError(f"not valid YAML: {exc}", file=source, line=0) from exc


def plain(node: Any) -> Any:
    """``node`` (a loaded document) as plain ``dict``/``list``/``str``/``int``/``float``/
    ``bool``/``datetime`` values, without ruamel's round-trip subclasses (folded strings,
    floats that remember their notation, anchored booleans)."""
    if isinstance(node, Mapping):
        return {plain(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    if isinstance(node, (bool, ScalarBoolean)):
        return bool(node)
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    if isinstance(node, dt.datetime):
        return dt.datetime.combine(node.date(), node.timetz())
    return node


def yaml_include(read: Callable[[str], tuple[str, str]]) -> Include:
    """An include for the parsers from ``read(name) -> (text, source name)``."""

    def include(name: str) -> tuple[Any, str]:
        text, source = read(name)
        return load_yaml(text, source), source

    return include
