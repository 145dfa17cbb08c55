"""A forgotten user's webhook deliveries are dropped, queued or stored, and their later
changes are not delivered; other users' deliveries go on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson

from schemas.privacy_records import PrivacyForget, encode_forget
from schemas.segment_records import Subscription, WebhookDelivery
from siyu.ports import free_port
from siyu.settings import Settings, WebhookSettings
from webhooks.jobs import Job
from webhooks.outbox import Outbox
from webhooks.receiver import LocalReceiver
from webhooks.service import WebhookService

KEY = "k"


def _job(user: str, n: int) -> Job:
    eid = f"{user}-{n}"
    body = orjson.dumps({"user_id": user, "event_id": eid})
    return Job("sub", "p", user, "segment", "s", "enter", int(time.time() * 1000), eid, body)


def _attempts(rx: LocalReceiver, user: str) -> int:
    return sum(1 for d in rx.received if d.body["user_id"] == user)


def test_forget_drops_every_delivery_of_the_user(settings_factory: Callable[..., Any]) -> None:
    settings: Settings = settings_factory(
        webhooks=WebhookSettings(backoff_first_s=0.02, backoff_max_s=0.05, concurrency=2)
    )
    rx = LocalReceiver(KEY, free_port(), answer=lambda _, __: (503, {})).start()  # down
    seen: dict[str, int] = {}

    async def run() -> None:
        service = WebhookService(settings)

        async def log(_: WebhookDelivery) -> None:
            return None

        service._log = log  # type: ignore[method-assign]  # the attempt log is not under test
        service.dispatcher.log = log
        service.dispatcher.sync([Subscription("sub", "p", rx.url, KEY, ("s",))])
        lane = service.dispatcher.lanes["sub"]
        await service._queue([_job(u, n) for n in range(3) for u in ("gone", "keep")])
        deadline = time.monotonic() + 20
        while _attempts(rx, "gone") < 2 or _attempts(rx, "keep") < 2:
            assert time.monotonic() < deadline, "no attempts"
            await asyncio.sleep(0.01)

        forget = PrivacyForget("r1", "p", "gone", (), ())
        service.forget(encode_forget(forget))
        seen["gone"], seen["keep"] = _attempts(rx, "gone"), _attempts(rx, "keep")
        # The receiver stays down: the kept user is retried, the forgotten one no more
        # (one attempt under way at the forget may still arrive).
        while _attempts(rx, "keep") < seen["keep"] + 10:
            assert time.monotonic() < deadline, "the kept user's retries stopped"
            await asyncio.sleep(0.01)
        seen["gone_after"] = _attempts(rx, "gone")
        seen["backlog"] = lane.backlog
        await service._queue([_job("gone", 9), _job("keep", 9)])  # changes read after it
        seen["backlog_after"] = lane.backlog
        seen["pending"] = len(service.outbox.pending("sub"))
        await service.dispatcher.close()
        service.outbox.close()
        await service.producer.stop()  # never started: only marks it closed

    try:
        asyncio.run(run())
    finally:
        rx.stop()
    assert seen["gone_after"] <= seen["gone"] + 1
    assert (seen["backlog"], seen["backlog_after"], seen["pending"]) == (3, 4, 4)
    box = Outbox(settings.data_dir / "webhooks" / "outbox.sqlite3", max_pending=10, keep_done_s=60)
    users = {u for (u,) in box.db.execute("SELECT user_id FROM jobs").fetchall()}
    assert users == {"keep"}
    assert box.add([_job("gone", 10)], time.time()) == ([], [])  # still forgotten on reopen
    box.close()
