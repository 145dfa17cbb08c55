"""Reading YAML with ruamel: plain values out, lines of nested values, YAML 1.2 scalars."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from streams.domain.located_yaml import DefinitionError, line_at
from streams.yaml_source import load_yaml, plain

_DOC = """\
# leading comment

a: 2024-01-01
b: 2024-01-01T10:00:00+08:00
c: 2024-01-01 10:00:00
d: 1e3
e: 0x1F
f: &n 1.5
g: *n
h: &t true
i: >
  folded
  text
j: [yes, no, on, off, 'x']
k: ~
l: {m: [1, {n: 2}]}
"""


def _types(value: Any) -> set[type]:
    if isinstance(value, dict):
        return {dict} | {t for k, v in value.items() for t in _types(k) | _types(v)}
    if isinstance(value, list):
        return {list} | {t for v in value for t in _types(v)}
    return {type(value)}


def test_plain_values_are_builtin_types() -> None:
    data = plain(load_yaml(_DOC, "doc.yaml"))
    assert data == {
        "a": dt.date(2024, 1, 1),
        "b": dt.datetime(2024, 1, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        "c": dt.datetime(2024, 1, 1, 10),  # noqa: DTZ001 - a naive timestamp stays naive
        "d": 1000.0,
        "e": 31,
        "f": 1.5,
        "g": 1.5,
        "h": True,
        "i": "folded text\n",
        "j": ["yes", "no", "on", "off", "x"],
        "k": None,
        "l": {"m": [1, {"n": 2}]},
    }
    assert _types(data) <= {dict, list, str, int, float, bool, dt.date, dt.datetime, type(None)}
    assert json.loads(json.dumps(data, default=str))["i"] == "folded text\n"


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ((), 3),
        (("a",), 3),
        (("l", "m"), 16),
        (("l", "m", 1, "n"), 16),
        (("j", 4), 14),
        (("j", 9), 14),  # no such item: the list's key
        (("missing", "x"), 3),  # no such key: the document
        (("a", "deeper"), 3),  # a scalar has no children: its key
    ],
)
def test_line_at_follows_keys_and_items(path: tuple[str | int, ...], line: int) -> None:
    assert line_at(load_yaml(_DOC, "doc.yaml"), path) == line


def test_line_at_block_lists_and_plain_values() -> None:
    doc = load_yaml("top:\n  - a: 1\n  -\n    b: 2\n", "doc.yaml")
    assert [line_at(doc, ("top", i)) for i in (0, 1)] == [2, 4]
    assert line_at(doc, ("top", 1, "b")) == 4
    assert line_at({"a": [1]}, ("a", 0)) == 0  # plain values carry no position
    assert line_at(None, ("a",)) == 0


def test_unreadable_characters_fail_without_a_line() -> None:
    with pytest.raises(DefinitionError, match="not valid YAML") as info:
        load_yaml("a: \x07\n", "doc.yaml")
    assert info.value.line == 0
