"""Read-side helpers of the CLI: ``siyu sql`` and ``siyu status``."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import httpx
from aiokafka.errors import KafkaError

from siyu.broker_quirks import for_kafka
from siyu.exceptions import TrackingError
from siyu.offsets import group_lag
from siyu.settings import Settings
from siyu.topics import TOPICS, changelog_topics, partition_overrides

__all__ = ["SqlError", "pipeline_lag", "run_sql", "sql_url", "status_report"]


class SqlError(TrackingError):
    pass


def sql_url(
    settings: Settings, project: str | None = None
) -> tuple[str, dict[str, str], tuple[str, str] | None]:
    """Where ClickHouse-style HTTP queries go: the embedded endpoint or the server.

    The embedded endpoint is read with a project's read key (basic auth, user = project):
    ``project``, else the first configured one.
    """
    if settings.clickhouse.url is None:
        name = project or next(iter(settings.projects))
        key = settings.projects[name].read_key.get_secret_value()
        return f"http://{settings.sql.host}:{settings.sql.port}/", {}, (name, key)
    parsed = urlparse(settings.clickhouse.url)
    password = settings.clickhouse.password
    auth = (
        parsed.username or "default",
        (password.get_secret_value() if password else parsed.password) or "",
    )
    base = f"{parsed.scheme}://{parsed.hostname}:{parsed.port or 8123}/"
    # A server applies FINAL only when asked; the embedded endpoint always does.
    return base, {"final": "1", "readonly": "2"}, auth


def run_sql(
    settings: Settings, query: str, fmt: str = "TabSeparated", project: str | None = None
) -> str:
    url, params, auth = sql_url(settings, project)
    try:
        answer = httpx.post(
            url,
            params={**params, "default_format": fmt},
            content=query.encode(),
            auth=auth,
            timeout=60,
        )
    except httpx.HTTPError as exc:
        raise SqlError(f"cannot reach {url} ({exc}); is `siyu run` up?") from exc
    if settings.clickhouse.url is None and "x-siyu-endpoint" not in answer.headers:
        clickhouse = any(name.startswith("x-clickhouse") for name in answer.headers)
        who = "a ClickHouse server" if clickhouse else answer.headers.get("server", "a server")
        raise SqlError(
            f"{url} is not siyu's SQL endpoint ({who} answered); "
            "is `siyu run` up, or does SIYU_SQL_PORT point at another server?"
        )
    if answer.status_code != 200:
        raise SqlError(_message(answer))
    return answer.text


def _message(answer: httpx.Response) -> str:
    """The error of a refused query: ``{"error": {"message"}}`` or ClickHouse's text."""
    try:
        return str(answer.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return answer.text.strip()


def _rows(settings: Settings, query: str) -> list[list[str]]:
    text = run_sql(settings, query, "TabSeparated")
    return [line.split("\t") for line in text.splitlines() if line]


def status_report(settings: Settings) -> str:
    lines = ["tables (rows as queries see them):"]
    tables = _rows(settings, "SHOW TABLES")
    for (name,) in tables:
        (count,) = _rows(settings, f"SELECT count() FROM siyu.`{name}`")[0]  # noqa: S608
        lines.append(f"  siyu.{name:<24} {int(count):>12,}")
    lines.append("consumer progress (committed / end, records behind):")
    try:
        lines += asyncio.run(_progress(settings))
    except (KafkaError, OSError) as exc:
        lines.append(f"  broker unreachable: {exc}")
    lines.append("dead letters by reason (top 5):")
    reasons = _rows(
        settings,
        "SELECT reason, count() FROM siyu.dead_letters GROUP BY reason ORDER BY 2 DESC LIMIT 5",
    )
    lines += [f"  {int(n):>8,}  {reason}" for reason, n in reasons] or ["  none"]
    return "\n".join(lines)


async def pipeline_lag(settings: Settings) -> dict[tuple[str, str], tuple[int, int]]:
    """``{(consumer group, topic): (committed, end)}`` of every stage of the pipeline."""
    k = settings.kafka
    app_id = settings.worker.app_id
    groups = {
        app_id: [k.topic(t.name) for t in TOPICS if t.worker_reads],
        f"{app_id}-sink": [k.topic(t.name) for t in TOPICS if t.sink_reads]
        + await changelog_topics(k.bootstrap, app_id),
    }
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for group, topics in groups.items():
        lag = await group_lag(
            k.bootstrap,
            group,
            topics,
            k.partitions,
            overrides=partition_overrides(k),
            end_offsets=for_kafka(k).end_offsets,
        )
        for topic in topics:
            parts = [v for tp, v in lag.items() if tp.topic == topic]
            out[(group, topic)] = (sum(c for c, _ in parts), sum(e for _, e in parts))
    return out


async def _progress(settings: Settings) -> list[str]:
    return [
        f"  {group:<12} {topic:<40} {committed:>9,} / {end:<9,} {end - committed:>7,}"
        for (group, topic), (committed, end) in (await pipeline_lag(settings)).items()
    ]
