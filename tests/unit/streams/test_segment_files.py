from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.segment_files import SegmentFileError, SegmentsWatcher, load_segments


def test_shipped_segments_cover_the_seed_workflows() -> None:
    names = {d.name for d in load_segments()}
    assert names == {
        "visited_yesterday_no_order",
        "first_order_only",
        "second_order",
        "silent_paying_users",
        "koc_candidates",
    }


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        pytest.param("segments:\n  - name: a\n    when: 'tags. >'\n", 2, "invalid CEL at 1:7",
                     id="bad-cel"),
        pytest.param("segments:\n  - name: a\n    when: 'true'\n    colour: red\n", 4,
                     "Extra inputs", id="unknown-key"),
        pytest.param("version: 2\n", 1, "version", id="version"),
        pytest.param("segments:\n  - name: a\n    when: 'true'\n  - name: a\n    when: 'false'\n",
                     4, "defined twice", id="duplicate"),
        pytest.param("segments: [\n", 2, "expected", id="yaml"),
        pytest.param("segments:\n  - name: a\n", 2, "when: Field required", id="missing"),
    ],
)  # fmt: skip
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text(text)
    with pytest.raises(SegmentFileError) as found:
        load_segments(path)
    assert found.value.line == line
    assert reason in found.value.reason
    assert str(found.value).startswith(f"{path}:{line}: ")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SegmentFileError, match="cannot read"):
        load_segments(tmp_path / "missing.yaml")


def test_watcher_reloads_and_keeps_the_last_good(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text("segments:\n  - name: a\n    when: 'true'\n    projects: [p1]\n")
    watcher = SegmentsWatcher(path)
    assert watcher.current[0].projects == frozenset({"p1"})
    assert not watcher.poll()
    path.write_text("segments:\n  - name: b\n    when: 'false'\n")
    os.utime(path, (1, 1))
    assert watcher.poll()
    assert [d.name for d in watcher.current] == ["b"]
    path.write_text("segments: [\n")
    os.utime(path, (2, 2))
    assert not watcher.poll()
    assert [d.name for d in watcher.current] == ["b"]
