"""Prometheus metrics of the ClickHouse sink (served on ``SIYU_SINK_METRICS_PORT``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BATCH_ROWS",
    "CONSUMED",
    "ERRORS",
    "INSERT_SECONDS",
    "PENDING_ROWS",
    "ROWS",
    "SQL_QUERIES",
    "SQL_REFUSED",
    "UNDECODABLE",
]

ROWS = Counter("siyu_sink_rows_total", "Rows written to ClickHouse", ["table"])
CONSUMED = Counter("siyu_sink_records_total", "Kafka records consumed", ["topic"])
BATCH_ROWS = Histogram(
    "siyu_sink_batch_rows",
    "Rows per flushed batch",
    buckets=(1, 10, 100, 500, 1000, 5000, 10000, 50000),
)
INSERT_SECONDS = Histogram("siyu_sink_insert_seconds", "Duration of one table insert", ["table"])
ERRORS = Counter("siyu_sink_errors_total", "Insert failures by kind", ["kind"])
UNDECODABLE = Counter(
    "siyu_sink_undecodable_total", "Records that could not be turned into rows", ["topic"]
)
PENDING_ROWS = Gauge("siyu_sink_pending_rows", "Rows waiting for the next flush")
SQL_QUERIES = Counter("siyu_sql_queries_total", "Queries on the embedded SQL endpoint", ["status"])
SQL_REFUSED = Counter(
    "siyu_sql_refused_total",
    "Requests the SQL endpoint refused (missing/wrong key, other project, forbidden query)",
    ["reason"],
)
