"""Logging of every siyu process: level and format (text or JSON lines) from the settings."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

from siyu.settings import LogSettings

__all__ = ["JsonFormatter", "apply_options", "configure", "dict_config"]

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose INFO lines are noise here (offset probes open short-lived consumers).
_QUIET = ("aiokafka", "httpx")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure(settings: LogSettings, default_level: str = "INFO") -> None:
    """Log to stderr at the configured level (or ``default_level``) in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else logging.Formatter(_TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level or default_level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def dict_config(settings: LogSettings, default_level: str = "INFO") -> dict[str, object]:
    """The same setup as a ``logging.config.dictConfig`` document, for libraries that take one
    (Faust's worker replaces the root handlers with what it is given)."""
    formatter: dict[str, object] = (
        {"()": f"{__name__}.JsonFormatter"} if settings.format == "json" else {"format": _TEXT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"siyu": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "siyu",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": settings.level or default_level, "handlers": ["default"]},
        "loggers": {name: {"level": "WARNING"} for name in _QUIET},
    }


def apply_options(*, level: str | None, fmt: str | None) -> None:
    """``--log-level``/``--log-format`` of the CLI: set as settings, so that the processes
    ``siyu run`` starts inherit them."""
    import os

    if level is not None:
        os.environ["SIYU_LOG_LEVEL"] = level.upper()
    if fmt is not None:
        os.environ["SIYU_LOG_FORMAT"] = fmt.lower()
