"""Each project's timezone (``Project.timezone``) as the workers use it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from siyu.settings import Project, Settings

__all__ = ["DEFAULT_ZONE", "project_offsets", "utc_offset_s"]

DEFAULT_ZONE: str = Project.model_fields["timezone"].default
"""The zone of a project not in the settings (the default of ``Project.timezone``)."""


def utc_offset_s(zone: str, at: datetime | None = None) -> int:
    """Seconds east of UTC of ``zone`` at ``at`` (now when None)."""
    offset = ZoneInfo(zone).utcoffset(at or datetime.now(UTC))
    return int(offset.total_seconds()) if offset is not None else 0


def project_offsets(settings: Settings) -> dict[str, int]:
    """UTC offset of every configured project's timezone, taken when the worker starts
    (a zone with daylight saving time keeps the offset of that moment until restart)."""
    return {name: utc_offset_s(p.timezone) for name, p in settings.projects.items()}
