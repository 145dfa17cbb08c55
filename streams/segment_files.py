"""Read segment definition files (YAML) into typed, compiled definitions.

The file is checked with a pydantic model and every expression is compiled; any problem
raises :class:`SegmentFileError` naming the file and line.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from siyu.exceptions import TrackingError
from streams.domain.located_yaml import DefinitionError, line_at
from streams.domain.segments import SegmentDef, SegmentError, compile_segment
from streams.yaml_source import load_yaml, plain

__all__ = ["DEFAULT_SEGMENTS_FILE", "SegmentFileError", "SegmentsWatcher", "load_segments"]

logger = logging.getLogger(__name__)

DEFAULT_SEGMENTS_FILE = Path(str(resources.files("streams") / "config" / "segments.yaml"))


class SegmentFileError(TrackingError):
    """``file:line: reason``."""

    def __init__(self, reason: str, *, file: str, line: int) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.reason, self.file, self.line = reason, file, line


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    when: str
    description: str = ""
    projects: list[str] = Field(default_factory=list)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    segments: list[_Entry] = Field(default_factory=list)


def load_segments(path: Path | None = None) -> tuple[SegmentDef, ...]:
    """The segments of ``path`` (default: the shipped set), compiled."""
    path = (path or DEFAULT_SEGMENTS_FILE).resolve()
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = load_yaml(text, where)
    except OSError as exc:
        raise SegmentFileError(f"cannot read: {exc.strerror or exc}", file=where, line=0) from exc
    except DefinitionError as exc:
        raise SegmentFileError(exc.reason, file=where, line=exc.line) from exc
    data: Any = plain(root) or {}
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        reason = f"{'.'.join(str(p) for p in loc)}: {err['msg']}"
        raise SegmentFileError(reason, file=where, line=line_at(root, loc) or 1) from exc
    out: list[SegmentDef] = []
    seen: set[str] = set()
    for i, entry in enumerate(parsed.segments):
        line = line_at(root, ("segments", i)) or 1
        if entry.name in seen:
            raise SegmentFileError(f"segment {entry.name!r} defined twice", file=where, line=line)
        seen.add(entry.name)
        try:
            out.append(
                compile_segment(
                    entry.name, entry.when, description=entry.description, projects=entry.projects
                )
            )
        except SegmentError as exc:
            raise SegmentFileError(exc.reason, file=where, line=line) from exc
    return tuple(out)


class SegmentsWatcher:
    """The file's current segments, reloaded when it changes (a broken new version is
    logged and the last good one stays)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = (path or DEFAULT_SEGMENTS_FILE).resolve()
        self.current = load_segments(self.path)
        self._stamp = self._mtime()

    def _mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def poll(self) -> bool:
        """Reload if the file changed; True when new definitions took effect."""
        stamp = self._mtime()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self.current = load_segments(self.path)
        except SegmentFileError as exc:
            logger.error(  # noqa: TRY400 - file, line and reason say it all
                "segments not reloaded, keeping the last good ones: %s", exc
            )
            return False
        logger.info("segments reloaded from %s", self.path)
        return True
