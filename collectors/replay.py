"""``siyu replay-dead-letters``: send dead letters through the collector again, after a fix.

Dead letters are read from ``siyu.dead_letters`` (the SQL endpoint of the embedded stack,
or the ClickHouse server) and posted to a running collector, on the route they first
came in by, with their project's write key: one rejected event as a one-event batch, an
unreadable body as the same bytes. What the collector accepts now goes down the pipeline
like any event (ClickHouse dedupes by ``event_id``); what it still rejects becomes a new
dead letter with the current reason. Replayed rows are not deleted: narrow the next
replay with ``--since`` (printed at the end of each run).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from siyu.inspect import run_sql
from siyu.settings import Settings

__all__ = ["ReplayRequest", "ReplaySummary", "plan", "replay_dead_letters", "select_query"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    method: str
    path: str
    params: dict[str, str]
    body: bytes
    content_type: str


@dataclass
class ReplaySummary:
    selected: int = 0
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    last_received_at: str = ""


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def select_query(
    *, project: str | None, reason: str | None, route: str | None, since: str | None, limit: int
) -> str:
    """The SELECT of the dead letters to replay, oldest first."""
    where = ["route NOT LIKE 'sink:%'"]
    if project:
        where.append(f"project = {_quote(project)}")
    if reason:
        where.append(f"reason LIKE {_quote('%' + reason + '%')}")
    if route:
        where.append(f"route = {_quote(route)}")
    if since:
        where.append(f"received_at > parseDateTime64BestEffort({_quote(since)}, 3)")
    # Values are quoted string literals (_quote) and the endpoint is read-only.
    return (
        "SELECT project, route, reason, event_index, payload, "  # noqa: S608
        "formatDateTime(received_at, '%Y-%m-%d %H:%i:%S.%f') AS received "
        f"FROM siyu.dead_letters WHERE {' AND '.join(where)} "
        f"ORDER BY received_at, event_index LIMIT {int(limit)}"
    )


def plan(row: dict[str, Any], write_key: str) -> ReplayRequest | None:
    """How to send one dead letter again; None when it did not come from a collector route."""
    route, project, payload = row["route"], row["project"], row["payload"].encode()
    whole_body = int(row["event_index"]) < 0
    if route in ("/sa", "/sa.gif"):
        # One Sensors event (JSON), a form body or a GET query string: /sa reads all three.
        return ReplayRequest("POST", "/sa", {"project": project}, payload, "text/plain")
    if route == "/v1/pixel.gif" and whole_body:
        params = {"key": write_key} | _query(payload)
        return ReplayRequest("GET", route, params, b"", "")
    if route in ("/v1/batch", "/v1/pixel.gif"):
        body = payload if whole_body else b"[" + payload + b"]"
        return ReplayRequest("POST", "/v1/batch", {"key": write_key}, body, "application/json")
    return None


def _query(raw: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


def replay_dead_letters(
    settings: Settings,
    *,
    collector_url: str,
    project: str | None = None,
    reason: str | None = None,
    route: str | None = None,
    since: str | None = None,
    limit: int = 10_000,
    dry_run: bool = False,
) -> ReplaySummary:
    query = select_query(project=project, reason=reason, route=route, since=since, limit=limit)
    text = run_sql(settings, query, "JSONEachRow")
    rows = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    summary = ReplaySummary(selected=len(rows))
    with httpx.Client(base_url=collector_url, timeout=30) as http:
        for row in rows:
            summary.last_received_at = row["received"]
            keys = settings.projects.get(row["project"])
            request = plan(row, keys.write_key.get_secret_value()) if keys else None
            if request is None:
                summary.skipped += 1
                continue
            if dry_run:
                continue
            _send(http, request, summary)
    return summary


def _send(http: httpx.Client, request: ReplayRequest, summary: ReplaySummary) -> None:
    headers = {"Content-Type": request.content_type} if request.content_type else {}
    try:
        answer = http.request(
            request.method,
            request.path,
            params=request.params,
            content=request.body or None,
            headers=headers,
        )
    except httpx.HTTPError as exc:
        logger.warning("collector unreachable: %s", exc)
        summary.failed += 1
        return
    if answer.status_code != 200:
        summary.rejected += 1
        summary.reasons[_reason(answer)] += 1
        return
    if answer.headers.get("content-type", "").startswith("image/"):
        summary.accepted += int(answer.headers.get("x-siyu-accepted", "0"))
        summary.rejected += int(answer.headers.get("x-siyu-rejected", "0"))
        return
    verdict = answer.json()
    summary.accepted += verdict["accepted"]
    summary.rejected += len(verdict["rejected"])
    for r in verdict["rejected"]:
        summary.reasons[r["reason"].partition(":")[0]] += 1


def _reason(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("code", answer.status_code))
    except ValueError:
        return str(answer.status_code)
