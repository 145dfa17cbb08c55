"""What the SQL endpoint runs: a parsed, allow-listed and rewritten read query.

A query is parsed with sqlglot's ClickHouse dialect; what runs is the SQL regenerated
from that tree, never the text received, so comments, quoting and case cannot make the
engine read something other than what was checked. Allowed: one ``SELECT`` (with
``WITH``, ``UNION``, subqueries), ``DESCRIBE`` of a visible table, ``SHOW TABLES``.
Every table must be one the caller's scope shows, every table function and function
must be on the allow-lists of :mod:`sinks.sql_functions`, and a query may not carry
its own ``SETTINGS``. For a project, every table name is rewritten to the project's
database, whose views hold only that project's rows (:mod:`sinks.project_views`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sinks.sql_functions import (
    AGGREGATE_COMBINATORS,
    NAMED_FUNCTIONS,
    TABLE_FUNCTIONS,
    TYPED_FUNCTIONS,
)

__all__ = ["FORMATS", "GuardedQuery", "QueryRefused", "Scope", "guard"]

# Output formats served (their names as ClickHouse spells them, compared in lower case).
FORMATS = {
    name.lower(): name
    for name in (
        "TabSeparated", "TSV", "TabSeparatedWithNames", "TSVWithNames", "CSV", "CSVWithNames",
        "JSON", "JSONEachRow", "JSONCompact", "JSONCompactEachRow", "JSONStrings",
        "Pretty", "PrettyCompact", "Values", "Vertical", "Native", "RowBinary",
        "RowBinaryWithNamesAndTypes",
    )
}  # fmt: skip
_NAME_CHECKED = (exp.Anonymous, exp.AnonymousAggFunc, exp.ParameterizedAgg)


class QueryRefused(Exception):
    """The query is not served; ``code`` names the rule it broke."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Scope:
    """What one caller may read.

    ``database`` is where the visible tables live; ``aliases`` are the databases a query
    may name for them (``siyu.events`` reads the project's ``events``); ``tables`` empty
    means every table of the allowed databases (the operator's scope).
    """

    database: str
    tables: frozenset[str]
    aliases: frozenset[str] = frozenset({"siyu"})
    other_databases: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class GuardedQuery:
    sql: str
    """The statement to run, without SETTINGS or FORMAT."""
    fmt: str
    kind: str
    """``select``, ``describe`` or ``show``."""


def guard(text: str, scope: Scope, default_format: str = "TabSeparated") -> GuardedQuery:
    """The query to run for ``text`` in ``scope``; raises :class:`QueryRefused`."""
    try:
        statements = [s for s in sqlglot.parse(text, read="clickhouse") if s is not None]
    except SqlglotError as exc:
        raise QueryRefused("unparsable", f"the query could not be parsed: {exc}") from exc
    if len(statements) != 1:
        raise QueryRefused("statements", "exactly one statement per request")
    (tree,) = statements
    fmt = _format(tree, default_format)
    if _is_show_tables(tree):
        return GuardedQuery(f"SHOW TABLES FROM {_quoted(scope.database)}", fmt, "show")
    if isinstance(tree, exp.Describe):
        kind = "describe"
        kind_word = str(tree.args.get("kind") or "TABLE").upper()
        if kind_word != "TABLE" or tree.args.get("style") or tree.args.get("partition"):
            raise QueryRefused("statement", "only DESCRIBE [TABLE] name is served")
        if not isinstance(tree.this, exp.Table):
            raise QueryRefused("statement", "only DESCRIBE [TABLE] name is served")
    elif isinstance(tree, exp.Query):
        kind = "select"
    else:
        raise QueryRefused(
            "statement", "only SELECT, WITH, DESCRIBE and SHOW TABLES are served (read only)"
        )
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        _check(node, scope, ctes)
    return GuardedQuery(tree.sql(dialect="clickhouse"), fmt, kind)


def _format(tree: exp.Expr, default: str) -> str:
    named = tree.args.get("format")
    if named is not None:
        tree.set("format", None)
        default = named.name
    fmt = FORMATS.get(default.lower())
    if fmt is None:
        raise QueryRefused("format", f"output format {default!r} is not served")
    return fmt


def _is_show_tables(tree: exp.Expr) -> bool:
    if not isinstance(tree, exp.Command) or tree.name.upper() != "SHOW":
        return False
    rest = tree.expression
    words = rest.name.split() if isinstance(rest, exp.Literal) else []
    return [w.upper() for w in words] == ["TABLES"]


def _check(node: exp.Expr, scope: Scope, ctes: set[str]) -> None:
    if isinstance(node, exp.Command | exp.DDL | exp.DML | exp.Set | exp.Into):
        raise QueryRefused("statement", "only reads are served")
    if node.args.get("settings"):
        raise QueryRefused("settings", "a query may not change settings")
    if isinstance(node, exp.Table):
        _check_table(node, scope, ctes)
    elif isinstance(node, exp.Func) and not _is_table_function(node):
        _check_function(node)


def _is_table_function(func: exp.Func) -> bool:
    """The function a ``FROM`` names: checked by :func:`_check_table`."""
    return isinstance(func.parent, exp.Table) and func.arg_key == "this"


def _check_table(table: exp.Table, scope: Scope, ctes: set[str]) -> None:
    source = table.this
    if isinstance(source, exp.Func):
        name = source.name if isinstance(source, exp.Anonymous) else ""
        if table.args.get("db") or name.lower() not in TABLE_FUNCTIONS:
            raise QueryRefused(
                "table_function", f"table function {name or source.key!r} is not allowed"
            )
        return
    if not isinstance(source, exp.Identifier):
        raise QueryRefused("table", "unsupported table expression")
    if table.args.get("catalog"):
        raise QueryRefused("table", f"unknown table {table.sql(dialect='clickhouse')}")
    db, name = table.db, table.name
    if not db and name in ctes:
        return
    if db in scope.other_databases:
        return
    visible = not scope.tables or name in scope.tables
    if (not db or db in scope.aliases or db == scope.database) and visible:
        table.set("db", exp.to_identifier(scope.database))
        return
    raise QueryRefused("table", f"unknown table {table.sql(dialect='clickhouse')}")


def _check_function(func: exp.Func) -> None:
    if isinstance(func, _NAME_CHECKED):
        name = func.name.lower()
        if name in NAMED_FUNCTIONS or _combined(name):
            return
        raise QueryRefused("function", f"function {func.name!r} is not allowed")
    if type(func).__name__ not in TYPED_FUNCTIONS:
        raise QueryRefused("function", f"function {func.sql_name().lower()!r} is not allowed")


def _combined(name: str) -> bool:
    for suffix in AGGREGATE_COMBINATORS:
        if name.endswith(suffix.lower()):
            base = name[: -len(suffix)]
            if base in NAMED_FUNCTIONS or _combined(base):
                return True
    return False


def _quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="clickhouse")
