"""One database of views per project: what a project's read key can see.

The embedded engine (chDB) has no users or row policies to create, so the scoping is
done with what it does have: for every table and view of ``siyu`` with a ``project``
column, the project's database ``siyu_project_<name>`` holds a view of the same name
with only that project's rows (``WHERE project = '<name>'``, every column including
the materialized ones). The SQL endpoint rewrites every table a project's query names
to that database (:mod:`sinks.sql_guard`), so the filter is applied by the engine.
Views are rebuilt at every start of the sink, after the migrations.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from sqlglot import exp

from sinks.writer import ClickHouseWriter

__all__ = ["ProjectViews", "project_database"]

logger = logging.getLogger(__name__)

_PLAIN = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_COLUMNS_SQL = (
    "SELECT table, groupArray(name) FROM ("
    " SELECT table, name FROM system.columns WHERE database = %(db)s ORDER BY table, position"
    ") GROUP BY table HAVING has(groupArray(name), 'project') ORDER BY table"
)


def project_database(project: str) -> str:
    """``siyu_project_<name>``; a name that is not plain letters/digits is hex-encoded."""
    if _PLAIN.match(project):
        return f"siyu_project_{project}"
    return f"siyu_project_x{project.encode().hex()}"


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="clickhouse")


class ProjectViews:
    """Creates and lists the per-project views."""

    def __init__(self, writer: ClickHouseWriter, *, database: str = "siyu") -> None:
        self.writer = writer
        self.database = database
        self.tables: frozenset[str] = frozenset()

    def build(self, projects: Iterable[str]) -> frozenset[str]:
        """(Re)create every project's views; returns the table names each project sees."""
        found = self.writer.rows(_COLUMNS_SQL, {"db": self.database})
        for project in projects:
            db = _ident(project_database(project))
            self.writer.command(f"CREATE DATABASE IF NOT EXISTS {db}")
            literal = exp.Literal.string(project).sql(dialect="clickhouse")
            for table, columns in found:
                cols = ", ".join(_ident(c) for c in columns)
                source = f"{_ident(self.database)}.{_ident(table)}"
                self.writer.command(
                    f"CREATE OR REPLACE VIEW {db}.{_ident(table)} AS "  # noqa: S608
                    f"SELECT {cols} FROM {source} WHERE project = {literal}"
                )
        self.tables = frozenset(str(t) for t, _ in found)
        logger.info("project views: %d tables for %s", len(self.tables), ", ".join(projects))
        return self.tables
