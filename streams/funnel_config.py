"""Load the funnel file (YAML or TOML) into typed definitions, pointing at bad lines."""

from __future__ import annotations

import logging
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from streams.domain.funnel_defs import FunnelDefinitionError, FunnelSet, parse_funnels

__all__ = ["DEFAULT_FUNNELS_FILE", "FunnelFileError", "load_funnels", "yaml_line"]

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


def yaml_line(node: yaml.Node | None, path: tuple[str | int, ...]) -> int | None:
    """Line (1-based) of the value at ``path`` under ``node``, or of its nearest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                return line
            key, node = match[0]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_funnels(file: Path | None = None) -> FunnelSet:
    """The funnels of ``file`` (the shipped defaults when None)."""
    path = file or DEFAULT_FUNNELS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FunnelFileError(path, None, f"cannot read: {exc}") from exc
    root: yaml.Node | None = None
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        else:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise FunnelFileError(path, mark.line + 1 if mark else None, str(exc.problem)) from exc
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise FunnelFileError(path, None, str(exc)) from exc
    try:
        funnels = parse_funnels(data)
    except FunnelDefinitionError as exc:
        where = ".".join(str(p) for p in exc.path)
        raise FunnelFileError(path, yaml_line(root, exc.path), f"{where}: {exc.reason}") from exc
    logger.info("loaded %d funnels from %s", len(funnels.funnels), path)
    return funnels
