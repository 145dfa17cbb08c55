"""Read tag definition files from disk (the parsing itself is pure, in streams/domain)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from streams.domain.tag_definitions import Definitions
from streams.domain.tag_parsing import DefinitionError, parse_definitions
from streams.metrics import DEFINITIONS_LOADED
from streams.yaml_source import load_yaml, yaml_include

__all__ = ["DEFAULT_TAGS_FILE", "DefinitionError", "DefinitionsWatcher", "load_definitions"]

logger = logging.getLogger(__name__)

DEFAULT_TAGS_FILE = Path(__file__).parent / "config" / "tags.yaml"


def load_definitions(path: Path | None = None) -> Definitions:
    """Load and check a tag file (default: the shipped set); raise DefinitionError."""
    path = (path or DEFAULT_TAGS_FILE).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError(
            f"cannot read: {exc.strerror or exc}", file=str(path), line=0
        ) from exc

    def read(name: str) -> tuple[str, str]:
        base = path.parent
        if name.startswith("siyu:"):  # a file shipped with siyu
            base, name = DEFAULT_TAGS_FILE.parent, name.removeprefix("siyu:")
        target = (base / name).resolve()
        return target.read_text(encoding="utf-8"), str(target)

    doc = load_yaml(text, str(path))
    return parse_definitions(doc, source=str(path), include=yaml_include(read))


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class DefinitionsWatcher:
    """The current definitions, reloaded when the file changes; a broken new version is
    reported and the last good definitions stay in force."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = (path or DEFAULT_TAGS_FILE).resolve()
        self.current = load_definitions(self.path)
        self._stamp = self._mtime()
        self.last_error: DefinitionError | None = None
        DEFINITIONS_LOADED.labels(kind="tags").set(time.time())

    def _mtime(self) -> tuple[float, float]:
        """Modification times of the tag file and of the live-code registry it names
        (``siyu qr add`` edits the registry alone)."""
        return _stamp(self.path), _stamp(Path(self.current.scenes.qr_codes_source or "."))

    def poll(self) -> bool:
        """Reload if the file changed; True when new definitions took effect."""
        stamp = self._mtime()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self.current = load_definitions(self.path)
        except DefinitionError as exc:
            self.last_error = exc
            logger.error(  # noqa: TRY400 - file, line and reason say it all; no traceback
                "tag definitions not reloaded, keeping the last good ones: %s", exc
            )
            return False
        self.last_error = None
        DEFINITIONS_LOADED.labels(kind="tags").set(time.time())
        logger.info("tag definitions reloaded from %s", self.path)
        return True
