"""Which outbox messages ClickHouse already holds: looked up by ``event_id`` in ``siyu.events``.

Runs in the collector, every ``confirm_interval_s``: the oldest pending messages are
decoded (once each) for their project and event ids, looked up through the SQL endpoint
(or the ClickHouse server) with the project's read key, and a message whose events are
all there is confirmed. ``siyu.events`` is ordered by ``(project, event_id)``, so the
lookup reads only the matching granules.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import httpx

from collectors.outbox import EventIds, Pending
from schemas.codec import codec
from siyu.inspect import sql_url
from siyu.settings import Settings

__all__ = ["ClickHouseConfirmer", "event_ids"]

logger = logging.getLogger(__name__)

# Event ids per lookup query (about 40 bytes of SQL each).
_IDS_PER_QUERY = 5000


def event_ids(value: bytes) -> EventIds:
    """(project, event ids) of one ``events.raw`` record."""
    batch = codec("event_batch").decode(value)
    return batch["project"], tuple(e["event_id"] for e in batch["events"])


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ClickHouseConfirmer:
    def __init__(self, settings: Settings, *, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s

    async def confirmed(self, pending: list[Pending]) -> list[int]:
        """Sequence numbers of the messages whose every event is in ``siyu.events``.

        Raises ``httpx.HTTPError`` when ClickHouse cannot answer (nothing is confirmed).
        """
        by_project: dict[str, set[str]] = defaultdict(set)
        ids_of: dict[int, EventIds] = {}
        for p in pending:
            ids_of[p.seq] = p.ids(event_ids)
            by_project[ids_of[p.seq][0]].update(ids_of[p.seq][1])
        found: set[str] = set()
        async with httpx.AsyncClient(timeout=self.timeout_s) as http:
            for project, wanted in by_project.items():
                ordered = sorted(wanted)
                for i in range(0, len(ordered), _IDS_PER_QUERY):
                    found |= await self._lookup(http, project, ordered[i : i + _IDS_PER_QUERY])
        return [seq for seq, (_, ids) in ids_of.items() if all(e in found for e in ids)]

    async def _lookup(self, http: httpx.AsyncClient, project: str, ids: list[str]) -> set[str]:
        # String literals escaped as ClickHouse reads them (backslash and quote); the ids
        # come from the collector's own records, and the endpoint only reads.
        where = f"project = {_quote(project)} AND event_id IN ({','.join(map(_quote, ids))})"
        query = f"SELECT event_id FROM siyu.events WHERE {where}"  # noqa: S608
        # Read with the project's own read key (the server's user in scaled-out mode).
        url, params, auth = sql_url(self.settings, project)
        answer = await http.post(
            url,
            params={**params, "default_format": "TabSeparated"},
            content=query.encode(),
            auth=auth or httpx.USE_CLIENT_DEFAULT,
        )
        answer.raise_for_status()
        return set(answer.text.split())
