"""docs/architecture.md lists every topic and state table the code declares."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.codec import schema_path
from siyu.topics import TOPICS

DOC = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"


def _table(heading: str) -> dict[str, list[str]]:
    """First-column name → cells of the markdown table under ``## heading``."""
    section = DOC.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        found = re.fullmatch(r"`([a-z_.]+)`", cells[0]) if line.startswith("|") else None
        if found:
            rows[found.group(1)] = cells[1:]
    return rows


def test_every_topic_in_the_code_has_a_row_and_no_row_is_stale() -> None:
    documented = _table("Topics")
    assert set(documented) == {t.name for t in TOPICS}


def test_every_row_names_the_schema_the_topic_declares() -> None:
    schemas = {t.name: t.schema for t in TOPICS}
    for topic, (_key, schema, *_rest) in _table("Topics").items():
        assert schema == f"`{schemas[topic]}`", (topic, schema)
        assert schema_path(schemas[topic]).is_file(), (topic, schema)


def test_every_state_table_in_the_code_has_a_row() -> None:
    code = "\n".join(p.read_text() for p in Path(DOC.parents[1], "streams").rglob("*.py"))
    declared = set(re.findall(r'ctx\.table\(\s*"([a-z_]+)"', code))
    declared |= set(re.findall(r'^[A-Z_]+_TABLE = "([a-z_]+)"', code, re.MULTILINE))
    assert declared, "no state table found in streams/"
    assert declared <= set(_table("State tables (workers)"))
