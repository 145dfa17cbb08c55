"""Load the funnel file (YAML or TOML) into typed definitions, pointing at bad lines."""

from __future__ import annotations

import logging
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from streams.domain.funnel_defs import FunnelDefinitionError, FunnelSet, parse_funnels
from streams.domain.located_yaml import DefinitionError, line_at
from streams.tag_files import load_definitions
from streams.yaml_source import load_yaml, plain

__all__ = ["DEFAULT_FUNNELS_FILE", "FunnelFileError", "funnels_of", "load_funnels"]

logger = logging.getLogger(__name__)

DEFAULT_FUNNELS_FILE = Path(str(resources.files("streams") / "config" / "funnels.yaml"))


class FunnelFileError(FunnelDefinitionError):
    """A funnel file that cannot be used, with the file and line of the problem."""

    def __init__(self, file: Path, line: int | None, reason: str) -> None:
        self.file = file
        self.line = line
        where = f"{file}:{line}" if line else str(file)
        super(FunnelDefinitionError, self).__init__(f"{where}: {reason}")
        self.path = ()
        self.reason = reason


def load_funnels(file: Path | None = None) -> FunnelSet:
    """The funnels of ``file`` (the shipped defaults when None)."""
    path = file or DEFAULT_FUNNELS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FunnelFileError(path, None, f"cannot read: {exc}") from exc
    root: Any = None  # the YAML document, whose nodes know their lines
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        else:
            root = load_yaml(text, str(path))
            data = plain(root)
    except DefinitionError as exc:
        raise FunnelFileError(path, exc.line or None, exc.reason) from exc
    except tomllib.TOMLDecodeError as exc:
        raise FunnelFileError(path, None, str(exc)) from exc
    try:
        funnels = parse_funnels(data)
    except FunnelDefinitionError as exc:
        where = ".".join(str(p) for p in exc.path)
        line = line_at(root, exc.path) or None
        raise FunnelFileError(path, line, f"{where}: {exc.reason}") from exc
    logger.info("loaded %d funnels from %s", len(funnels.funnels), path)
    return funnels


def funnels_of(funnels_file: Path | None = None, tags_file: Path | None = None) -> FunnelSet:
    """The funnels of ``funnels_file``, their channel breakdowns classed by the scene
    dictionary of ``tags_file`` (as every entry is); the shipped files when None."""
    scenes = load_definitions(tags_file).scenes
    return load_funnels(funnels_file).with_scenes(scenes)
