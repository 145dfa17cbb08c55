"""Every Kafka topic the code names is declared in ``siyu/topics.py`` with an Avro schema
that the code encodes through the one codec.

The topic names come from the code itself (every string handed to a ``topic(...)``,
``ConfigTopic(...)`` or ``publish(...)`` call), not from a list kept by hand.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from schemas.codec import Codec, schema_path
from siyu.topics import TOPICS, TopicSpec

ROOT = Path(__file__).parents[3]
PACKAGES = ("collectors", "lookup", "schemas", "siyu", "sinks", "streams", "webhooks")


def _calls() -> Iterator[tuple[str, ast.Call]]:
    """Every call in the product packages, with the name of what is called."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call):
                    f = node.func
                    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                    yield name, node


def _literals(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


@cache
def _topics_in_code() -> set[str]:
    return {
        s
        for name, call in _calls()
        if "topic" in name.lower() or name == "publish"
        for s in _literals(call)
        if "." in s
    }


@cache
def _schemas_encoded() -> set[str]:
    return {s for name, call in _calls() if name == "codec" for s in _literals(call)[:1]}


def test_the_topics_the_code_names_are_the_declared_ones() -> None:
    declared = {t.name for t in TOPICS}
    assert _topics_in_code() - declared == set(), "topics used but not declared in TOPICS"
    assert declared - _topics_in_code() == set(), "topics declared but never used"


@pytest.mark.parametrize("spec", [pytest.param(t, id=t.name) for t in TOPICS])
def test_every_topic_has_a_schema_used_through_the_codec(spec: TopicSpec) -> None:
    assert spec.schema, f"{spec.name} names no schema"
    assert schema_path(spec.schema).is_file()
    assert Codec(spec.schema).schema["type"] == "record"
    assert spec.schema in _schemas_encoded(), f"nothing encodes {spec.schema} via codec()"
