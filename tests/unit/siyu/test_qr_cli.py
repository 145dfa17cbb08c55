from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli import app
from streams.qr_registry import read_codes
from streams.tag_files import load_definitions


@pytest.fixture
def tags_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "tags.yaml"
    path.write_text("sources:\n  qrcodes_file: codes.yaml\n")
    (tmp_path / "codes.yaml").write_text("codes:\n  old: {channel: store, kind: static}\n")
    monkeypatch.setenv("SIYU_TAGS_FILE", str(path))
    return path


def test_qr_add_and_list(tags_file: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["qr", "add", "poster-9", "--channel", "moments", "--material", "m9", "--staff", "s1"]
    )
    assert added.exit_code == 0, added.output
    updated = runner.invoke(app, ["qr", "add", "old", "--name", "Counter", "--kind", "static"])
    assert updated.exit_code == 0, updated.output
    codes = read_codes(tags_file.parent / "codes.yaml")
    assert codes["poster-9"].channel == "moments"
    assert (codes["poster-9"].material, codes["poster-9"].staff, codes["poster-9"].kind) == (
        "m9",
        "s1",
        "live",
    )
    assert (codes["old"].name, codes["old"].channel) == ("Counter", "store")  # channel kept
    # The tag definitions read the edited registry.
    assert load_definitions(tags_file).scenes.qr_codes["poster-9"].material == "m9"
    listed = runner.invoke(app, ["qr", "list"])
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].endswith("codes.yaml: 2 codes")
    assert "old\tstatic\tCounter\tstore\t\t\t" in lines
    assert "poster-9\tlive\t\tmoments\tm9\t\ts1" in lines


def test_qr_add_refuses_an_unknown_kind(tags_file: Path) -> None:
    result = CliRunner().invoke(app, ["qr", "add", "x", "--kind", "dead"])
    assert result.exit_code == 2
    assert "x" not in read_codes(tags_file.parent / "codes.yaml")
