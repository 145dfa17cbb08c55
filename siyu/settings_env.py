"""The settings as environment variables: their names, the documented table, mistakes.

``python -m siyu.settings_env`` prints the table of every ``SIYU_*`` variable (name,
default, meaning from the field's docstring); ``--write README.md`` replaces the table
between the ``settings:start``/``settings:end`` markers. A test keeps the README equal to
what this generates.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings
from pydantic_settings import SettingsError as EnvParseError

from siyu.settings import Settings

__all__ = [
    "all_problems",
    "documented_table",
    "known",
    "problems",
    "settings_table",
    "unknown_variables",
    "variables",
    "write_table",
]

_START, _END = "<!-- settings:start -->", "<!-- settings:end -->"
# Variables of the benchmark harness (bench/), the tests, the watchdog (siyu/watchdog.py) and
# the Grafana/ClickHouse containers of infra/, not settings of siyu itself.
_OTHER_PREFIXES = ("SIYU_BENCH_", "SIYU_TEST_", "SIYU_SUPERVISOR_", "SIYU_GRAFANA_")


def _sections() -> Iterator[tuple[str, str, type[BaseSettings]]]:
    """(field name on Settings, env prefix, section class) of every section."""
    for name, field in Settings.model_fields.items():
        cls = field.annotation
        if isinstance(cls, type) and issubclass(cls, BaseSettings):
            yield name, str(cls.model_config.get("env_prefix", "")), cls


def variables() -> Iterator[tuple[str, FieldInfo]]:
    """Every ``SIYU_*`` variable with the field it sets, in declaration order."""
    top = str(Settings.model_config.get("env_prefix", ""))
    sections = {name for name, _, _ in _sections()}
    for name, field in Settings.model_fields.items():
        if name not in sections:
            yield f"{top}{name.upper()}", field
    for _, prefix, cls in _sections():
        for name, field in cls.model_fields.items():
            yield f"{prefix}{name.upper()}", field


def _default(name: str, field: FieldInfo) -> str:
    if name == "SIYU_PROJECTS":
        return "one demo project (`demo-write-key`, `demo-read-key`, `demo-admin-key`)"
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, BaseModel):
        return "…"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if value != "" else '`""`'


def _meaning(field: FieldInfo) -> str:
    text = " ".join((field.description or "").split())
    return text.replace("``", "`").replace("|", "\\|")


def settings_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in variables():
        lines.append(f"| `{name}` | {_default(name, field)} | {_meaning(field)} |")
    return "\n".join(lines) + "\n"


def write_table(path: Path) -> bool:
    """Replace the table between the markers in ``path``; True when it changed."""
    text = path.read_text()
    head, _, rest = text.partition(_START)
    _, _, tail = rest.partition(_END)
    if not rest or _END not in rest:
        raise ValueError(f"{path} has no {_START} … {_END} block")
    new = f"{head}{_START}\n{settings_table()}{_END}{tail}"
    if new == text:
        return False
    path.write_text(new)
    return True


def documented_table(path: Path) -> str:
    """The table between the markers of ``path``, as written there."""
    _, _, rest = path.read_text().partition(_START)
    return rest.partition(_END)[0].lstrip("\n")


def known(name: str) -> bool:
    """A variable that some siyu setting (or the bench/test harness) reads."""
    return name in {n for n, _ in variables()} or name.startswith(_OTHER_PREFIXES)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One line per ``SIYU_*`` variable that no setting reads, with the likely intended one."""
    known = {name for name, _ in variables()}
    lines = []
    for name in sorted(environ):
        if not name.startswith("SIYU_") or name in known or name.startswith(_OTHER_PREFIXES):
            continue
        # SIYU_WORKER_TAGS_FILE → SIYU_TAGS_FILE: a known name under a wrong section first.
        guess = [k for k in sorted(known) if name.endswith("_" + k.removeprefix("SIYU_"))]
        guess = guess or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        lines.append(f"{name} is not a siyu setting and is ignored{hint}")
    return lines


def problems(exc: ValidationError | EnvParseError) -> list[str]:
    """One line per bad setting, naming its variable; values are never repeated."""
    if isinstance(exc, EnvParseError):
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"SIYU_{field.group(1).upper()}" if field else "a SIYU_* variable"
        return [f"{name}: cannot parse the value (JSON expected)"]
    prefixes = {cls.__name__: prefix for _, prefix, cls in _sections()}
    prefix = prefixes.get(exc.title, str(Settings.model_config.get("env_prefix", "")))
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in error["loc"]]
        # The one whole-model check of Settings is about the projects' keys.
        name = f"{prefix}{loc[0].upper()}" if loc else "SIYU_PROJECTS"
        where = f" ({'.'.join(loc[1:])})" if len(loc) > 1 else ""
        lines.append(f"{name}{where}: {error['msg']}")
    return lines


def all_problems() -> list[str]:
    """Every bad setting of the environment, one line each (``Settings()`` stops at the first
    bad section): each section is built on its own, then the top level without them."""
    lines: list[str] = []
    sections: dict[str, BaseSettings] = {}
    for name, _, cls in _sections():
        try:
            sections[name] = cls()
        except (ValidationError, EnvParseError) as exc:
            lines += problems(exc)
            sections[name] = cls.model_construct()
    try:
        Settings(**sections)  # type: ignore[arg-type]
    except (ValidationError, EnvParseError) as exc:
        lines += problems(exc)
    return lines


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--write":
        changed = write_table(Path(argv[1]))
        sys.stdout.write(f"{argv[1]}: {'updated' if changed else 'up to date'}\n")
        return 0
    sys.stdout.write(settings_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
