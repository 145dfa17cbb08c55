"""Retention per table (``SIYU_PRIVACY_RETENTION_DAYS``): a ClickHouse TTL on its time.

Applied at every start of the sink after the migrations. The TTL column is the table's
first time column among :data:`TIME_COLUMNS`; a table named in the setting that does
not exist or has none of them stops the start (a retention silently not applied would
keep data longer than promised). With ``SIYU_CLICKHOUSE_CLUSTER`` set the statement runs
``ON CLUSTER`` like the migrations (:mod:`sinks.cluster_ddl`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sinks.exceptions import SinkRejected
from sinks.writer import ClickHouseWriter

__all__ = ["TIME_COLUMNS", "apply_retention", "ttl_statement"]

logger = logging.getLogger(__name__)

TIME_COLUMNS = ("time", "received_at", "at", "updated_at", "requested_at", "day", "date")


def ttl_statement(database: str, table: str, column: str, days: int) -> str:
    """The TTL of one table (written for one server; the writer adds ``ON CLUSTER``)."""
    return (
        f"ALTER TABLE {database}.`{table}` MODIFY TTL toDateTime(`{column}`) "
        f"+ INTERVAL {int(days)} DAY"
    )


def apply_retention(
    writer: ClickHouseWriter, days: Mapping[str, int], *, database: str = "siyu"
) -> dict[str, str]:
    """Set each table's TTL; returns ``{table: ttl column}``."""
    if not days:
        return {}
    columns: dict[str, set[str]] = {}
    for table, name in writer.rows(
        "SELECT table, name FROM system.columns WHERE database = %(db)s "
        "AND table IN (SELECT name FROM system.tables WHERE database = %(db)s "
        "AND engine LIKE '%%MergeTree%%')",
        {"db": database},
    ):
        columns.setdefault(str(table), set()).add(str(name))
    applied: dict[str, str] = {}
    for table, n in sorted(days.items()):
        column = next((c for c in TIME_COLUMNS if c in columns.get(table, set())), None)
        if column is None or n < 1:
            raise SinkRejected(f"retention for {table!r}: no such table with a time column")
        writer.ddl(ttl_statement(database, table, column, n))
        applied[table] = column
    logger.info("retention: %s", ", ".join(f"{t} {days[t]} d" for t in applied))
    return applied
