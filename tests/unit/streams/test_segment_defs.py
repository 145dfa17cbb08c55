"""Which segment definitions a worker evaluates, and when every user must be re-evaluated."""

from __future__ import annotations

import os
from pathlib import Path

from schemas.segment_records import SegmentDefinitionRecord, encode_definition
from siyu.settings import SegmentSettings, Settings
from streams.agents.segment_defs import SegmentDefinitions


def test_file_and_run_time_definitions_mark_users_for_re_evaluation(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text("segments:\n  - name: a\n    when: 'true'\n")
    defs = SegmentDefinitions(Settings(data_dir=tmp_path, segments=SegmentSettings(file=path)))
    assert not defs.dirty  # not before the run-time definitions are read
    defs.topic.caught_up.set()
    assert defs.dirty  # the first load after start
    defs.mark_evaluated()
    assert not defs.dirty
    defs._apply(encode_definition(SegmentDefinitionRecord("p", "b", "false", 1)))
    assert defs.dirty
    assert [d.name for d in defs.current.for_project("p")] == ["a", "b"]
    assert [d.name for d in defs.current.for_project("q")] == ["a"]
    defs.mark_evaluated()
    defs._apply(b"not avro")  # skipped, logged
    defs._apply(encode_definition(SegmentDefinitionRecord("p", "c", "tags. >", 2)))  # invalid
    assert not defs.dirty
    defs._apply(encode_definition(SegmentDefinitionRecord("p", "b", "", 3, deleted=True)))
    assert [d.name for d in defs.current.for_project("p")] == ["a"]
    defs.mark_evaluated()
    path.write_text("segments:\n  - name: a\n    when: 'false'\n")
    os.utime(path, (1, 1))
    defs.poll()
    assert defs.dirty
    assert defs.current.for_project("p")[0].expression == "false"
