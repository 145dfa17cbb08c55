"""Reading the YAML definition files (tags, live-code registry) for the pure parsers.

The parsers in ``streams/domain`` receive documents whose nodes remember their line
(ruamel round-trip nodes, read through ``line_of``), so every mistake they find names
file and line; a file that is not YAML at all fails here the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from streams.domain.located_yaml import DefinitionError, Include

__all__ = ["load_yaml", "yaml_include"]


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


def yaml_include(read: Callable[[str], tuple[str, str]]) -> Include:
    """An include for the parsers from ``read(name) -> (text, source name)``."""

    def include(name: str) -> tuple[Any, str]:
        text, source = read(name)
        return load_yaml(text, source), source

    return include
