"""The one ClickHouse writer: embedded chDB or a server, through clickhouse-connect.

``clickhouse_connect.get_client(interface="chdb", path=...)`` and
``get_client(host=..., port=...)`` share one client API, so there is a single code path.
Driver errors are translated here and never leave this module.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.exceptions import (
    DatabaseError,
    OperationalError,
)
from clickhouse_connect.driver.exceptions import (
    Error as DriverError,
)

from sinks.definitions import SqlDefinitions
from sinks.exceptions import SinkError, SinkRejected, SinkUnavailable

__all__ = ["ClickHouseWriter", "migration_statements"]

logger = logging.getLogger(__name__)

# Read queries see deduplicated rows: every ReplacingMergeTree is read as if FINAL.
# Settings go in the query's own SETTINGS clause: the embedded engine applies per-call
# settings to its one session, where ``readonly`` would stick and block the sink's inserts.
_READ_CLAUSE = " SETTINGS final = 1"
_READONLY_CLAUSE = " SETTINGS readonly = 2, final = 1"
_FORMAT_RE = re.compile(r"\s+FORMAT\s+(\w+)\s*$", re.IGNORECASE)
_READ_KINDS_RE = re.compile(r"^\(*\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|EXISTS)\b", re.I)
_READONLY_RE = re.compile(r"\breadonly\b", re.IGNORECASE)
# Table functions that reach files, processes or the network are not for a read endpoint.
_FORBIDDEN_RE = re.compile(
    r"\b(file|url|s3|s3Cluster|gcs|hdfs|remote|remoteSecure|cluster|clusterAllReplicas|mysql|"
    r"postgresql|mongodb|redis|sqlite|jdbc|odbc|executable|azureBlobStorage|iceberg|deltaLake|"
    r"hudi|input|fileCluster|urlCluster)\s*\(",
    re.IGNORECASE,
)


@contextmanager
def _mapped(table: str = "") -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        raise SinkUnavailable(str(exc), table=table) from exc
    except DatabaseError as exc:
        raise SinkRejected(str(exc), table=table) from exc
    except DriverError as exc:
        raise SinkError(str(exc), table=table) from exc


def migration_statements(definitions: SqlDefinitions | None = None) -> list[tuple[str, str]]:
    """``(file name, statement)`` of every migration, in file order, with the shared
    definitions (:mod:`sinks.definitions`) written in."""
    defs = definitions or SqlDefinitions()
    out: list[tuple[str, str]] = []
    folder = resources.files("sinks") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".sql"):
            continue
        text = "\n".join(
            line for line in entry.read_text().splitlines() if not line.strip().startswith("--")
        )
        text = defs.render(text)
        out.extend((entry.name, s.strip()) for s in text.split(";") if s.strip())
    return out


class ClickHouseWriter:
    """Thread-safe for concurrent queries; inserts are issued by one sink loop."""

    def __init__(self, *, url: str | None, chdb_path: Path | None, password: str | None = None):
        with _mapped():
            if url is None:
                if chdb_path is None:
                    raise SinkError("embedded mode needs a chDB path")
                chdb_path.mkdir(parents=True, exist_ok=True)
                self._client = clickhouse_connect.get_client(
                    interface="chdb", path=str(chdb_path.resolve())
                )
                self.embedded = True
            else:
                parsed = urlparse(url)
                self._client = clickhouse_connect.get_client(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or 8123,
                    username=parsed.username or "default",
                    password=password or parsed.password or "",
                    secure=parsed.scheme == "https",
                )
                self.embedded = False

    def migrate(self, definitions: SqlDefinitions | None = None) -> int:
        """Apply every migration (each is idempotent). Returns the statement count."""
        statements = migration_statements(definitions)
        for name, sql in statements:
            logger.debug("migration %s", name)
            with _mapped(name):
                self._client.command(sql)
        return len(statements)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with _mapped(table):
            self._client.insert(table, rows, column_names=list(columns))

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with _mapped():
            result = self._client.query(sql + _READ_CLAUSE, parameters=parameters)
            return [tuple(r) for r in result.result_rows]

    def command(self, sql: str) -> None:
        with _mapped():
            self._client.command(sql)

    def raw_read(self, sql: str, default_format: str = "TabSeparated") -> bytes:
        """Run one read-only query and return its output in the asked FORMAT."""
        body = sql.strip().rstrip(";").rstrip()
        if ";" in body:
            raise SinkRejected("one statement per request")
        if not _READ_KINDS_RE.match(body) or _READONLY_RE.search(body):
            raise SinkRejected("only SELECT, WITH, SHOW, DESCRIBE, EXPLAIN and EXISTS are served")
        if _FORBIDDEN_RE.search(body):
            raise SinkRejected("table functions that reach files or the network are refused")
        named = _FORMAT_RE.search(body)
        fmt = named.group(1) if named else default_format
        if named:
            body = body[: named.start()]
        with _mapped():
            return bytes(self._client.raw_query(f"{body}{_READONLY_CLAUSE} FORMAT {fmt}"))

    def close(self) -> None:
        self._client.close()
