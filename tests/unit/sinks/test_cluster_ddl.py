"""Cluster DDL: every shipped migration, rewritten, is accepted by ClickHouse's own parser."""

from __future__ import annotations

import re

import chdb
import pytest

from sinks.cluster_ddl import REPLICA_PATH, clustered
from sinks.retention import ttl_statement
from sinks.writer import migration_statements


def _formatted(sql: str) -> str:
    """ClickHouse's canonical text of ``sql`` (parses it; raises on a syntax error)."""
    quoted = sql.replace("\\", "\\\\").replace("'", "\\'")
    return str(chdb.query(f"SELECT formatQuerySingleLine('{quoted}')", "TSVRaw")).strip()


@pytest.mark.parametrize(("name", "statement"), migration_statements())
def test_every_migration_runs_on_a_cluster(name: str, statement: str) -> None:
    out = _formatted(clustered(statement, "siyu_cluster"))
    head = statement.lstrip().split(None, 1)[0].upper()
    if head in {"CREATE", "ALTER", "DROP"}:
        assert "ON CLUSTER siyu_cluster" in out, name
    else:
        assert "ON CLUSTER" not in out, name
    for engine in re.findall(r"ENGINE = (\w+)", out):
        assert engine.startswith("Replicated"), (name, engine)


@pytest.mark.parametrize(
    ("statement", "engine"),
    [
        pytest.param(
            "CREATE TABLE IF NOT EXISTS siyu.t (a UInt8, v UInt64) "
            "ENGINE = ReplacingMergeTree(v) ORDER BY a",
            f"ReplicatedReplacingMergeTree('{REPLICA_PATH}', '{{replica}}', v)",
            id="version-argument-kept",
        ),
        pytest.param(
            "CREATE TABLE siyu.t (a UInt8) ENGINE = MergeTree ORDER BY a",
            f"ReplicatedMergeTree('{REPLICA_PATH}', '{{replica}}')",
            id="bare-engine",
        ),
        pytest.param(
            "CREATE TABLE siyu.t (a UInt8, d UInt8) ENGINE = ReplacingMergeTree(v, d) ORDER BY a",
            f"ReplicatedReplacingMergeTree('{REPLICA_PATH}', '{{replica}}', v, d)",
            id="two-arguments",
        ),
        pytest.param(
            "CREATE TABLE siyu.t (a UInt8) ENGINE = AggregatingMergeTree() ORDER BY a",
            f"ReplicatedAggregatingMergeTree('{REPLICA_PATH}', '{{replica}}')",
            id="empty-parentheses",
        ),
    ],
)
def test_engines_become_replicated(statement: str, engine: str) -> None:
    assert f"ENGINE = {engine}" in clustered(statement, "c1")


def test_statements_that_name_nothing_are_left_alone() -> None:
    insert = "INSERT INTO siyu.user_days SELECT * FROM siyu.events"
    assert clustered(insert, "c1") == insert


def test_a_statement_already_on_a_cluster_is_not_rewritten_twice() -> None:
    once = clustered("CREATE TABLE siyu.t (a UInt8) ENGINE = MergeTree ORDER BY a", "c1")
    assert clustered(once, "c1") == once


def test_materialized_view_target_stays_after_the_cluster() -> None:
    sql = "CREATE MATERIALIZED VIEW IF NOT EXISTS siyu.mv TO siyu.t AS SELECT 1 AS a"
    out = _formatted(clustered(sql, "c1"))
    assert "siyu.mv ON CLUSTER c1 TO siyu.t" in out


@pytest.mark.parametrize("name", ["", "a b", "c1; DROP TABLE x", "1abc"])
def test_cluster_names_that_are_not_identifiers_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="plain identifier"):
        clustered("CREATE TABLE siyu.t (a UInt8) ENGINE = MergeTree ORDER BY a", name)


def test_retention_ttl_runs_on_a_cluster() -> None:
    statement = ttl_statement("siyu", "events", "time", 30)
    out = _formatted(clustered(statement, "siyu_cluster"))
    assert out == (
        "ALTER TABLE siyu.events ON CLUSTER siyu_cluster "
        "(MODIFY TTL toDateTime(time) + toIntervalDay(30))"
    )
