"""The shipped migrations, made to run on a ClickHouse cluster.

With ``SIYU_CLICKHOUSE_CLUSTER`` set, every ``CREATE``/``ALTER``/``DROP`` runs
``ON CLUSTER <name>`` and every ``*MergeTree`` engine becomes its ``Replicated*`` twin, with
the replica path built from ClickHouse's own ``{shard}``, ``{replica}``, ``{database}`` and
``{table}`` macros. The migrations stay written once, for one server; this is the only place
that knows about clusters. ``INSERT`` statements (backfills) are left as they are: on a
replicated table one replica's insert reaches the others.
"""

from __future__ import annotations

import re

__all__ = ["REPLICA_PATH", "clustered"]

REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
"""ZooKeeper/Keeper path of each replicated table; the macros are expanded per server."""

# The name a DDL statement acts on: ``ON CLUSTER`` goes right after it.
_NAMED_DDL_RE = re.compile(
    r"""^(?P<head>
        (?:CREATE(?:\s+OR\s+REPLACE)?\s+
            (?:TABLE|VIEW|MATERIALIZED\s+VIEW|DATABASE|DICTIONARY|FUNCTION)
            (?:\s+IF\s+NOT\s+EXISTS)?
        |ALTER\s+TABLE
        |DROP\s+(?:TABLE|VIEW|DATABASE|DICTIONARY)(?:\s+IF\s+EXISTS)?
        )\s+
        (?P<name>[\w.`"]+)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_ENGINE_RE = re.compile(
    r"""\bENGINE\s*=\s*
        (?P<kind>Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing)?MergeTree\b
        (?:\s*\((?P<args>[^()]*)\))?""",
    re.IGNORECASE | re.VERBOSE,
)


def clustered(statement: str, cluster: str) -> str:
    """``statement`` rewritten to run on every server of ``cluster`` with replicated storage."""
    if not re.fullmatch(r"[A-Za-z_][\w-]*", cluster):
        raise ValueError(f"cluster name {cluster!r} is not a plain identifier")
    named = _NAMED_DDL_RE.match(statement.lstrip())
    if named is None:
        return statement
    text = statement.lstrip()
    if re.match(r"\s+ON\s+CLUSTER\b", text[named.end() :], re.IGNORECASE):
        return statement
    text = f"{named.group('head')} ON CLUSTER {cluster}{text[named.end() :]}"
    return _ENGINE_RE.sub(_replicated, text)


def _replicated(engine: re.Match[str]) -> str:
    kind = engine.group("kind") or ""
    args = (engine.group("args") or "").strip()
    extra = f", {args}" if args else ""
    return f"ENGINE = Replicated{kind}MergeTree('{REPLICA_PATH}', '{{replica}}'{extra})"
