"""Delivery lanes against real local HTTP receivers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from schemas.segment_records import Subscription, WebhookDelivery
from siyu.ports import free_port
from siyu.settings import WebhookSettings
from webhooks.dispatcher import Dispatcher
from webhooks.jobs import Job
from webhooks.receiver import LocalReceiver

KEY = "k"


def _job(sub: str, user: str, n: int) -> Job:
    body = {"user_id": user, "n": n, "event_id": f"{sub}-{user}-{n}"}
    return Job(sub, "p", user, "segment", "s", "enter", int(time.time() * 1000),
               f"{sub}-{user}-{n}", orjson.dumps(body), ("t", 0, n))  # fmt: skip


async def _until(check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_in_order_per_user_retries_and_isolation() -> None:
    failed_once: set[str] = set()

    def flaky(_: str, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
        if body["n"] % 2 == 0 and body["event_id"] not in failed_once:
            failed_once.add(body["event_id"])
            return 503, {}
        return 200, {}

    def slow(_: str, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
        time.sleep(1.0)
        return 200, {}

    fast_rx = LocalReceiver(KEY, free_port(), answer=flaky).start()
    slow_rx = LocalReceiver(KEY, free_port(), answer=slow).start()
    logged: list[WebhookDelivery] = []
    finished: list[Job] = []

    async def log(d: WebhookDelivery) -> None:
        logged.append(d)

    async def run() -> float:
        settings = WebhookSettings(backoff_first_s=0.05, backoff_max_s=0.2, concurrency=4)
        dispatcher = Dispatcher(settings, log, finished.append)
        dispatcher.sync(
            [
                Subscription("fast", "p", fast_rx.url, KEY, ("s",)),
                Subscription("slow", "p", slow_rx.url, KEY, ("s",)),
            ]
        )
        start = time.monotonic()
        for n in range(6):
            for user in ("a", "b"):
                dispatcher.add(_job("fast", user, n))
                dispatcher.add(_job("slow", user, n))
        assert not dispatcher.add(_job("unknown", "a", 0))
        await _until(lambda: sum(j.subscription_id == "fast" for j in finished) == 12)
        fast_done = time.monotonic() - start
        await dispatcher.close()
        return fast_done

    try:
        fast_done = asyncio.run(run())
    finally:
        fast_rx.stop()
        slow_rx.stop()
    # The slow receiver (1 s per request, 12 requests) did not hold the fast one back.
    assert fast_done < 4.0
    for user in ("a", "b"):
        delivered = [
            d.body["n"] for d in fast_rx.received if d.status == 200 and d.body["user_id"] == user
        ]
        assert delivered == list(range(6))
    assert all(d.signature_ok for d in fast_rx.received)
    outcomes = [(d.event_id, d.outcome) for d in logged if d.subscription_id == "fast"]
    assert ("fast-a-0", "retry") in outcomes
    assert outcomes.index(("fast-a-0", "retry")) < outcomes.index(("fast-a-0", "delivered"))


def test_refused_and_exhausted_deliveries_are_dead_letters() -> None:
    def answer(path: str, _: dict[str, Any]) -> tuple[int, dict[str, str]]:
        return (422, {}) if path == "/refuse" else (500, {})

    rx = LocalReceiver(KEY, free_port(), answer=answer).start()
    logged: list[WebhookDelivery] = []
    finished: list[Job] = []

    async def log(d: WebhookDelivery) -> None:
        logged.append(d)

    async def run() -> None:
        settings = WebhookSettings(backoff_first_s=0.05, backoff_max_s=0.1, retry_for_s=0.5)
        dispatcher = Dispatcher(settings, log, finished.append)
        dispatcher.sync(
            [
                Subscription("refuse", "p", rx.url + "/refuse", KEY, ("s",)),
                Subscription("down", "p", rx.url + "/down", KEY, ("s",)),
            ]
        )
        dispatcher.add(_job("refuse", "a", 0))
        dispatcher.add(_job("down", "a", 0))
        await _until(lambda: len(finished) == 2)
        gone = dispatcher.sync([])
        assert {lane.sub.id for lane in gone} == {"refuse", "down"}
        for lane in gone:
            assert await lane.close() == []

    try:
        asyncio.run(run())
    finally:
        rx.stop()
    refused = [d for d in logged if d.subscription_id == "refuse"]
    assert [(d.outcome, d.status, d.attempt) for d in refused] == [("failed", 422, 1)]
    assert orjson.loads(refused[0].body)["event_id"] == "refuse-a-0"
    down = [d for d in logged if d.subscription_id == "down"]
    assert down[-1].outcome == "dead_letter"
    assert {d.outcome for d in down[:-1]} == {"retry"}
    assert len(down) >= 3
