"""The one ClickHouse writer: embedded chDB or a server, through clickhouse-connect.

``clickhouse_connect.get_client(interface="chdb", path=...)`` and
``get_client(host=..., port=...)`` share one client API, so there is a single code path.
Driver errors are translated here and never leave this module.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator, Mapping, Sequence
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

from sinks.cluster_ddl import clustered
from sinks.definitions import SqlDefinitions
from sinks.exceptions import SinkError, SinkRejected, SinkUnavailable

__all__ = ["ClickHouseWriter", "migration_statements"]

logger = logging.getLogger(__name__)

# Read queries see deduplicated rows: every ReplacingMergeTree is read as if FINAL.
# Settings go in the query's own SETTINGS clause: the embedded engine applies per-call
# settings to its one session.
_READ_CLAUSE = " SETTINGS final = 1"


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

    def __init__(
        self,
        *,
        url: str | None,
        chdb_path: Path | None,
        password: str | None = None,
        cluster: str | None = None,
    ):
        self._cluster = cluster
        self._readers: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._path = ""
        with _mapped():
            if url is None:
                if chdb_path is None:
                    raise SinkError("embedded mode needs a chDB path")
                chdb_path.mkdir(parents=True, exist_ok=True)
                self._path = str(chdb_path.resolve())
                self._client = clickhouse_connect.get_client(interface="chdb", path=self._path)
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
        if self._cluster is not None:
            statements = [(name, clustered(sql, self._cluster)) for name, sql in statements]
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

    def ddl(self, sql: str) -> None:
        """A schema statement, run ``ON CLUSTER`` (replicated) as the migrations are."""
        self.command(clustered(sql, self._cluster) if self._cluster is not None else sql)

    def command_with(self, sql: str, parameters: dict[str, Any]) -> None:
        """A statement with client-side bound ``%(name)s`` parameters."""
        with _mapped():
            self._client.command(sql, parameters=parameters)

    def read(self, sql: str, settings: Mapping[str, int | float | str], fmt: str) -> bytes:
        """Run one checked read (:mod:`sinks.sql_guard`) on a read connection.

        Embedded, reads use chDB connections of their own, one per query running at
        the same time (a connection runs one call at a time): a long query never holds
        the connection the sink inserts through, nor the one another query needs.
        ``settings`` are our own limits, appended in order (``readonly`` last, so
        nothing after it can change them). Callers bound how many run at once.
        """
        clause = ", ".join(f"{name} = {_setting(value)}" for name, value in settings.items())
        client = self._take_reader()
        try:
            with _mapped():
                return bytes(client.raw_query(f"{sql} SETTINGS {clause} FORMAT {fmt}"))
        finally:
            self._readers.put(client)

    def _take_reader(self) -> Any:
        try:
            return self._readers.get_nowait()
        except queue.Empty:
            if not self.embedded:
                return self._client
            with _mapped():
                return clickhouse_connect.get_client(interface="chdb", path=self._path)

    def close(self) -> None:
        while True:
            try:
                reader = self._readers.get_nowait()
            except queue.Empty:
                break
            if reader is not self._client:
                reader.close()
        self._client.close()


def _setting(value: int | float | str) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)
