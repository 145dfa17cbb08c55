"""The settings as environment variables: the README table, unknown names, error lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from siyu.settings import Settings
from siyu.settings_env import (
    documented_table,
    known,
    problems,
    settings_table,
    unknown_variables,
    variables,
    write_table,
)

ROOT = Path(__file__).resolve().parents[3]


def test_readme_table_is_the_generated_one() -> None:
    assert documented_table(ROOT / "README.md") == settings_table(), (
        "run: .venv/bin/python -m siyu.settings_env --write README.md"
    )


def test_every_setting_is_documented_with_a_meaning() -> None:
    names = [name for name, _ in variables()]
    assert len(names) == len(set(names))
    assert {name: field.description for name, field in variables() if not field.description} == {}
    for name in ("SIYU_TAGS_FILE", "SIYU_LOG_FORMAT", "SIYU_COLLECTOR_PORT", "SIYU_PROJECTS"):
        assert f"| `{name}` |" in settings_table()


def test_docs_name_only_real_settings() -> None:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    files += [*sorted((ROOT / "infra").rglob("*.yml")), ROOT / "Makefile"]
    files += sorted((ROOT / "streams" / "config").glob("*.yaml"))
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in re.findall(r"SIYU_[A-Z0-9_]*[A-Z0-9]\b(?!_)", path.read_text())
        if not known(name)
    }
    assert wrong == set()


def test_write_table_replaces_only_the_marked_block(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- settings:start -->\nold\n<!-- settings:end -->\nrest\n")
    assert write_table(doc) is True
    assert write_table(doc) is False
    text = doc.read_text()
    assert text.startswith("intro\n<!-- settings:start -->\n| variable |")
    assert text.endswith("<!-- settings:end -->\nrest\n")


def test_unknown_variables_name_the_intended_setting() -> None:
    lines = unknown_variables(
        {
            "SIYU_WORKER_TAGS_FILE": "tags.yaml",
            "SIYU_CLICKHOUSE_DATABASE": "x",
            "SIYU_COLECTOR_PORT": "1",
            "SIYU_TAGS_FILE": "ok",
            "SIYU_BENCH_LOAD_RATE": "5",
            "PATH": "/bin",
        }
    )
    assert lines == [
        "SIYU_CLICKHOUSE_DATABASE is not a siyu setting and is ignored"
        " (did you mean SIYU_CLICKHOUSE_CHDB_PATH?)",
        "SIYU_COLECTOR_PORT is not a siyu setting and is ignored"
        " (did you mean SIYU_COLLECTOR_PORT?)",
        "SIYU_WORKER_TAGS_FILE is not a siyu setting and is ignored (did you mean SIYU_TAGS_FILE?)",
    ]


def _error(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, SettingsError)) as raised:
        Settings()
    assert isinstance(raised.value, ValidationError | SettingsError)
    return problems(raised.value)


def test_one_line_per_bad_setting_without_values(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _error({"SIYU_SINK_BATCH_ROWS": "-5"}, monkeypatch) == [
        "SIYU_SINK_BATCH_ROWS: Input should be greater than or equal to 1"
    ]
    monkeypatch.delenv("SIYU_SINK_BATCH_ROWS")
    lines = _error({"SIYU_PROJECTS": '{"shop": {"write_key": "s3cret-w"}}'}, monkeypatch)
    assert lines == ["SIYU_PROJECTS (shop.read_key): Field required"]
    lines = _error({"SIYU_PROJECTS": '{"shop": {"write_key": "s3cret-'}, monkeypatch)
    assert lines == ["SIYU_PROJECTS: cannot parse the value (JSON expected)"]


def test_cli_reports_bad_settings_in_short_lines() -> None:
    env = {
        **os.environ,
        "SIYU_COLLECTOR_PORT": "eighty",
        "SIYU_KAFKA_PARTITIONS": "0",
        "SIYU_PROJECTS": '{"a": {"write_key": "hunter2", "read_key": "hunter2"}}',
    }
    done = subprocess.run(
        [sys.executable, "-m", "siyu", "status"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == "siyu: invalid settings:"
    assert lines[1:] == [
        "  SIYU_KAFKA_PARTITIONS: Input should be greater than or equal to 1",
        "  SIYU_COLLECTOR_PORT: Input should be a valid integer, unable to parse string as an"
        " integer",
        "  SIYU_PROJECTS: Value error, write keys must be unique and differ from every read key",
    ]
    assert "hunter2" not in done.stderr
