"""``siyu logs [part]``: the last lines of the children's logs, then new lines as they come.

Each part of the embedded stack writes ``<data_dir>/logs/<part>.log``. With several files,
every line is prefixed with its part, like ``docker compose logs``.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path
from typing import BinaryIO, TextIO

from siyu.exceptions import TrackingError

__all__ = ["LogViewError", "follow_logs"]

_POLL_S = 0.25


class LogViewError(TrackingError):
    pass


def _files(log_dir: Path, part: str | None) -> list[Path]:
    known = sorted(log_dir.glob("*.log")) if log_dir.is_dir() else []
    if not known:
        raise LogViewError(f"no logs in {log_dir}; has `siyu run` been started here?")
    if part is None:
        return known
    chosen = [p for p in known if p.stem == part or p.stem.startswith(f"{part}-")]
    if not chosen:
        names = ", ".join(p.stem for p in known)
        raise LogViewError(f"no log for {part!r} in {log_dir} (there are: {names})")
    return chosen


def _tail(handle: BinaryIO, lines: int) -> list[bytes]:
    return list(deque(handle, maxlen=lines)) if lines > 0 else []


def follow_logs(
    log_dir: Path,
    part: str | None,
    *,
    follow: bool = True,
    lines: int = 20,
    out: TextIO | None = None,
    stop_after_s: float | None = None,
) -> None:
    """Print the last ``lines`` of each log, then, when following, new lines until Ctrl-C
    (or ``stop_after_s``)."""
    stream = out or sys.stdout
    files = _files(log_dir, part)
    width = max(len(p.stem) for p in files)
    handles = {p: p.open("rb") for p in files}

    def emit(path: Path, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\n")
        prefix = f"{path.stem:<{width}} | " if len(files) > 1 else ""
        stream.write(f"{prefix}{text}\n")

    try:
        for path, handle in handles.items():
            for raw in _tail(handle, lines):
                emit(path, raw)
        stream.flush()
        started = time.monotonic()
        while follow:
            quiet = True
            for path, handle in handles.items():
                for raw in handle.readlines():
                    emit(path, raw)
                    quiet = False
            stream.flush()
            if stop_after_s is not None and time.monotonic() - started > stop_after_s:
                return
            if quiet:
                time.sleep(_POLL_S)
    finally:
        for handle in handles.values():
            handle.close()
