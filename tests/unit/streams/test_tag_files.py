from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.tag_files import DefinitionError, DefinitionsWatcher, load_definitions


def test_shipped_defaults_load() -> None:
    d = load_definitions()
    assert d.scenes.scenes[1044] == "share"
    assert "high_intent" in {r.name for r in d.rules}


def test_a_custom_file_uses_the_shipped_scene_dictionary_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text("lifecycle: {new_for: 1s, silent_after: 2s, churned_after: 3s}\n")
    assert load_definitions(path).scenes.scenes[1007] == "share"
    (tmp_path / "mine.yaml").write_text("scenes:\n  share: [1234]\n")
    path.write_text("sources:\n  scenes_file: mine.yaml\n")
    assert load_definitions(path).scenes.scenes == {1234: "share"}


def test_a_missing_file_fails_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="cannot read") as info:
        load_definitions(tmp_path / "nope.yaml")
    assert info.value.file.endswith("nope.yaml")


def test_watcher_reloads_and_keeps_the_last_good_definitions(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text("windows: [7d]\n")
    watcher = DefinitionsWatcher(path)
    assert watcher.poll() is False
    path.write_text("windows: [3d]\n")
    os.utime(path, (1, 1))
    assert watcher.poll() is True
    assert watcher.current.windows_days == (3,)
    path.write_text("windows: [3d]\nrules:\n  - name: x\n    when: nope > 1\n")
    os.utime(path, (2, 2))
    assert watcher.poll() is False
    assert watcher.current.windows_days == (3,)
    assert watcher.last_error is not None
    assert watcher.last_error.line == 4
    path.unlink()
    assert watcher.poll() is False
    assert watcher.current.windows_days == (3,)
