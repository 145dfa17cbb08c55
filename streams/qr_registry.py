"""The live-code registry file on disk: where it is, read it, add a code.

The registry is the YAML file the tag definitions name (``sources.qrcodes_file``, default
the shipped ``streams/config/qrcodes.yaml``); its format and checks are pure
(:mod:`streams.domain.qr_codes`). The tag workers reload it when it changes, the sink
copies it into ``siyu.qr_codes``.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

from ruamel.yaml import YAML

from streams.domain.located_yaml import SourceFile
from streams.domain.qr_codes import QrCode, dump_qr_codes, parse_qr_codes
from streams.tag_files import DEFAULT_TAGS_FILE, load_definitions
from streams.yaml_source import load_yaml

__all__ = ["add_code", "read_codes", "registry_path"]


def registry_path(tags_file: Path | None) -> Path:
    """The registry the tag definitions use (the shipped one when they name none)."""
    source = load_definitions(tags_file).scenes.qr_codes_source
    return Path(source) if source else DEFAULT_TAGS_FILE.parent / "qrcodes.yaml"


def read_codes(path: Path) -> dict[str, QrCode]:
    """The codes of a registry file (none when it does not exist); raises DefinitionError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return parse_qr_codes(SourceFile(str(path), None), load_yaml(text, str(path)))


def add_code(path: Path, code: QrCode) -> dict[str, QrCode]:
    """Add or replace ``code`` in the registry file (atomically); the new registry.

    Fields left empty keep the value an existing entry has.
    """
    codes = read_codes(path)
    old = codes.get(code.id)
    if old is not None:
        kept = {
            name: getattr(old, name)
            for name in ("name", "channel", "material", "campaign", "staff")
            if not getattr(code, name)
        }
        code = replace(code, **kept)
    codes[code.id] = code
    buf = io.StringIO()
    buf.write(
        "# Live-code registry (活码): code id → name, channel, material, campaign, staff, kind\n"
        "# (live | static). Edited by `siyu qr add`; format in docs/wechat.md.\n"
    )
    YAML().dump(dump_qr_codes(codes), buf)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
    return codes
