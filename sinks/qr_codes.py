"""Copy the live-code registry file into ``siyu.qr_codes``, at start and on every change.

The per-code views (``siyu.qr_code_funnel``, ``siyu.qr_code_kinds``) join it for the
codes' names and kinds. Rows are versioned (ReplacingMergeTree by ``version``, with
``deleted``), so a code removed from the file is marked deleted, never lost mid-read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from sinks.exceptions import SinkError
from sinks.writer import ClickHouseWriter
from streams.domain.located_yaml import DefinitionError
from streams.qr_registry import read_codes

__all__ = ["QR_CODES_COLUMNS", "sync_qr_codes", "watch_qr_codes"]

logger = logging.getLogger(__name__)

QR_CODES_COLUMNS = (
    "qr_id", "name", "channel", "material", "campaign", "staff", "kind", "version", "deleted",
)  # fmt: skip
# How often the sink looks at the registry file's modification time.
_POLL_S = 2.0


def sync_qr_codes(writer: ClickHouseWriter, path: Path) -> int:
    """Write the registry's codes (and deletions) into ``siyu.qr_codes``; codes written."""
    codes = read_codes(path)
    version = time.time_ns()
    rows: list[tuple[object, ...]] = [
        (c.id, c.name, c.channel, c.material, c.campaign, c.staff, c.kind, version, 0)
        for c in codes.values()
    ]
    held = {
        str(r[0]) for r in writer.rows("SELECT qr_id FROM siyu.qr_codes FINAL WHERE deleted = 0")
    }
    rows += [(gone, "", "", "", "", "", "", version, 1) for gone in held - codes.keys()]
    if rows:
        writer.insert("siyu.qr_codes", QR_CODES_COLUMNS, rows)
    return len(codes)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


async def watch_qr_codes(writer: ClickHouseWriter, path: Path, stop: asyncio.Event) -> None:
    """Sync now, then again whenever the file changes, until ``stop``. A broken file is
    logged and the last good codes stay in the table."""
    seen = -1.0
    while not stop.is_set():
        stamp = _mtime(path)
        if stamp != seen:
            seen = stamp
            try:
                n = await asyncio.to_thread(sync_qr_codes, writer, path)
            except DefinitionError as exc:
                logger.error("live-code registry not synced: %s", exc)  # noqa: TRY400 - file:line says it
            except SinkError:
                logger.exception("live-code registry not synced; retrying")
                seen = -1.0
            else:
                logger.info("live-code registry: %d codes from %s", n, path)
        try:
            await asyncio.wait_for(stop.wait(), _POLL_S)
        except TimeoutError:
            continue
