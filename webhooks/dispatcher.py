"""Deliver jobs: one lane per subscription, one user's jobs in order, users in parallel.

Each subscription has its own HTTP client, its own queue and its own ``concurrency``
sender tasks, so a slow or dead receiver only ever holds up its own deliveries. Within a
lane a user's jobs form a FIFO: the next one starts only once the previous one is
delivered, refused or given up, which is what keeps deliveries in order per user. A
job waiting for a retry does not hold a sender: it is put back in the ready queue when
its pause is over.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

import httpx

from schemas.segment_records import Subscription, WebhookDelivery
from siyu.settings import WebhookSettings
from webhooks import metrics
from webhooks.jobs import Job, attempt_record
from webhooks.retry import judge
from webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["Dispatcher", "Lane"]

logger = logging.getLogger(__name__)

Log = Callable[[WebhookDelivery], Awaitable[None]]
Done = Callable[[Job], None]
Retried = Callable[[Job, int, float], None]
"""Called after a failed attempt that will be retried: (job, attempts so far, first try)."""


def _ignore_retry(job: Job, attempts: int, first_try: float) -> None:
    """No store to tell."""


class Lane:
    """The deliveries of one subscription."""

    def __init__(
        self,
        sub: Subscription,
        settings: WebhookSettings,
        log: Log,
        done: Done,
        retried: Retried = _ignore_retry,
    ) -> None:
        self.sub = sub
        self.settings = settings
        self.log = log
        self.done = done
        self.retried = retried
        self.queues: dict[str, deque[Job]] = {}
        self.ready: asyncio.Queue[str] = asyncio.Queue()
        self.first_try: dict[str, float] = {}
        self.attempts: dict[str, int] = {}
        self.client = httpx.AsyncClient(
            timeout=settings.timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.concurrency),
        )
        self.tasks = [
            asyncio.create_task(self._sender(), name=f"webhook-{sub.id}-{i}")
            for i in range(settings.concurrency)
        ]
        self.backlog = 0

    def add(self, job: Job) -> None:
        queue = self.queues.get(job.user_id)
        if queue is None:
            self.queues[job.user_id] = deque([job])
            self.ready.put_nowait(job.user_id)
        else:
            queue.append(job)
        self._count(+1)

    def restore(self, job: Job, attempts: int, first_try: float | None) -> None:
        """Queue a job loaded back after a restart, with its attempts so far."""
        if attempts:
            self.attempts[job.event_id] = attempts
        if first_try is not None:
            self.first_try[job.event_id] = first_try
        self.add(job)

    def forget(self, user_id: str) -> int:
        """Drop a forgotten user's queued jobs (an attempt under way still ends); return
        how many."""
        queue = self.queues.pop(user_id, None)
        if not queue:
            return 0
        for job in queue:
            self.first_try.pop(job.event_id, None)
            self.attempts.pop(job.event_id, None)
        self._count(-len(queue))
        return len(queue)

    def _count(self, n: int) -> None:
        self.backlog += n
        metrics.BACKLOG.labels(subscription=self.sub.id).set(self.backlog)

    async def close(self) -> list[Job]:
        """Stop; return the jobs not finished (the caller releases them)."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()
        left = [job for queue in self.queues.values() for job in queue]
        self.queues.clear()
        metrics.BACKLOG.labels(subscription=self.sub.id).set(0)
        return left

    async def _sender(self) -> None:
        while True:
            user = await self.ready.get()
            queue = self.queues.get(user)
            if not queue:
                continue
            job = queue[0]
            wait = await self._attempt(job)
            if self.queues.get(user) is not queue:
                continue  # the user was forgotten meanwhile
            if wait is None:
                queue.popleft()
                self._count(-1)
                self.done(job)
                if queue:
                    self.ready.put_nowait(user)
                else:
                    del self.queues[user]
            else:
                asyncio.get_running_loop().call_later(wait, self.ready.put_nowait, user)

    async def _attempt(self, job: Job) -> float | None:
        """One attempt; the pause before the next one, or None when the job is finished."""
        now = time.time()
        first = self.first_try.setdefault(job.event_id, now)
        attempt = self.attempts.get(job.event_id, 0) + 1
        self.attempts[job.event_id] = attempt
        stamp = int(now)
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self.sub.secret, stamp, job.body),
            "X-Siyu-Event-Id": job.event_id,
            "User-Agent": "siyu-webhooks/1",
        }
        status: int | None = None
        retry_after: str | None = None
        error = ""
        try:
            answer = await self.client.post(self.sub.url, content=job.body, headers=headers)
            status, retry_after = answer.status_code, answer.headers.get("retry-after")
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        s = self.settings
        verdict = judge(
            status,
            attempt=attempt,
            retry_after=retry_after,
            first_attempt_at=first,
            now=time.time(),
            retry_for=s.retry_for_s,
            first=s.backoff_first_s,
            cap=s.backoff_max_s,
            rand=random.random(),  # noqa: S311 - jitter, not cryptography
            error=error,
        )
        ended = time.time()
        latency = max(0.0, ended - job.at / 1000)
        sub_id = self.sub.id
        if verdict.kind == "delivered":
            metrics.DELIVERED.labels(subscription=sub_id).inc()
            metrics.LATENCY.labels(subscription=sub_id).observe(latency)
        else:
            metrics.FAILED.labels(subscription=sub_id, outcome=verdict.kind).inc()
        final = verdict.kind != "retry"
        await self.log(
            attempt_record(
                job,
                attempt=attempt,
                status=status or 0,
                outcome=verdict.kind,
                latency_ms=round(latency * 1000, 3),
                at=int(ended * 1000),
                error=verdict.reason,
                body=job.body.decode() if verdict.kind in ("failed", "dead_letter") else "",
            )
        )
        if final:
            self.first_try.pop(job.event_id, None)
            self.attempts.pop(job.event_id, None)
            return None
        self.retried(job, attempt, first)
        logger.info(
            "webhook %s to %s: %s; retry %d in %.1fs", job.event_id, self.sub.url,
            verdict.reason, attempt, verdict.wait_s,
        )  # fmt: skip
        return verdict.wait_s


class Dispatcher:
    """Lanes of every active subscription; follows subscription changes."""

    def __init__(
        self, settings: WebhookSettings, log: Log, done: Done, retried: Retried = _ignore_retry
    ) -> None:
        self.settings = settings
        self.log = log
        self.done = done
        self.retried = retried
        self.lanes: dict[str, Lane] = {}

    def sync(self, active: list[Subscription]) -> list[Lane]:
        """Open lanes of new subscriptions; return the lanes of removed ones (to close)."""
        wanted = {s.id: s for s in active}
        for sub_id, sub in wanted.items():
            if sub_id not in self.lanes:
                self.lanes[sub_id] = Lane(sub, self.settings, self.log, self.done, self.retried)
        gone = [lane for sub_id, lane in self.lanes.items() if sub_id not in wanted]
        for lane in gone:
            del self.lanes[lane.sub.id]
        return gone

    def add(self, job: Job) -> bool:
        lane = self.lanes.get(job.subscription_id)
        if lane is None:
            return False
        lane.add(job)
        return True

    def forget(self, user_id: str) -> int:
        """Drop a forgotten user's queued jobs in every lane; return how many."""
        return sum(lane.forget(user_id) for lane in self.lanes.values())

    async def close(self) -> None:
        for lane in list(self.lanes.values()):
            await lane.close()
        self.lanes.clear()
