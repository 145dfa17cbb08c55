"""Over its backlog bound a subscription's changes become dead letters, with the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import REGISTRY

from schemas.segment_records import WebhookDelivery
from siyu.settings import Settings, WebhookSettings
from webhooks.jobs import Job
from webhooks.service import WebhookService


def _job(n: int) -> Job:
    eid = f"e{n}"
    body = orjson.dumps({"event_id": eid, "user_id": "u", "segment": "s", "change": "enter"})
    return Job("sub-over", "p", "u", "segment", "s", "enter", n, eid, body)


def test_changes_over_the_bound_are_dead_letters(settings_factory: Callable[..., Any]) -> None:
    settings: Settings = settings_factory(webhooks=WebhookSettings(max_pending=2))
    logged: list[WebhookDelivery] = []

    async def run() -> None:
        service = WebhookService(settings)

        async def log(delivery: WebhookDelivery) -> None:
            logged.append(delivery)

        service._log = log  # type: ignore[method-assign]  # record, not send
        # No lane is open for the subscription: the first two are stored and let go.
        await service._queue([_job(n) for n in range(4)])
        await service._queue([_job(n) for n in range(4)])  # read again
        service.outbox.close()
        await service.producer.stop()  # never started: only marks it closed

    before = _overflow()
    asyncio.run(run())
    assert [(d.event_id, d.outcome, d.error.split(":")[0]) for d in logged] == [
        ("e2", "dead_letter", "backlog_full"),
        ("e3", "dead_letter", "backlog_full"),
    ]
    assert orjson.loads(logged[0].body)["event_id"] == "e2"
    assert _overflow() == before + 2


def _overflow() -> float:
    value = REGISTRY.get_sample_value("siyu_webhook_overflow_total", {"subscription": "sub-over"})
    return value or 0.0
