"""Segment changes under load: while 1,000 events/s flow through the embedded stack,
probe users get a ``profile_set`` that makes them enter a segment. Measured from each
probe's POST: the segment visible in the lookup API (``segments`` of the user) and the
webhook delivered to a local receiver; baseline: the same probes' own event reaching
``siyu.events`` (collector receive → row inserted), in the same run."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson

from bench.core import BenchResult, percentile
from bench.traffic import offer
from siyu.embedded import Stack
from siyu.ports import free_port, local_settings
from siyu.settings import Settings
from webhooks.receiver import LocalReceiver

__all__ = ["run"]

RATE = 1000  # background events/s
SECONDS = 30
PROBES_PER_S = 5
SEGMENT = "bench_probe"
SECRET = "bench-secret"  # noqa: S105 - the local receiver's signing key


async def _probe(
    client: httpx.AsyncClient, collector: str, lookup: str, anon: str
) -> tuple[float, float, str] | None:
    """POST one probe; return (sent at, visible in the API after s, user id)."""
    now = int(time.time() * 1000)
    body = [
        {"event_id": f"{anon}-v", "type": "track", "event": "$pageview", "time": now,
         "platform": "h5", "identities": {"anonymous_id": anon}, "properties": {}},
        {"event_id": f"{anon}-p", "type": "profile_set", "time": now, "platform": "h5",
         "identities": {"anonymous_id": anon}, "properties": {"bench_probe": True}},
    ]  # fmt: skip
    sent = time.time()
    answer = await client.post(
        f"{collector}/v1/batch",
        content=orjson.dumps(body),
        headers={"X-Siyu-Key": "demo-write-key"},
    )
    if answer.status_code != 200:
        return None
    deadline = sent + 30
    while time.time() < deadline:
        found = await client.get(
            f"{lookup}/v1/users/anonymous_id/{anon}", headers={"X-Siyu-Key": "demo-read-key"}
        )
        if found.status_code == 200 and SEGMENT in found.json()["segments"]:
            return sent, time.time() - sent, found.json()["user_id"]
        await asyncio.sleep(0.02)
    return sent, float("inf"), ""


async def _measure(
    collector: str, lookup: str, settings: Settings
) -> list[tuple[float, float, str]]:
    run_id = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(timeout=30) as client:
        load = asyncio.create_task(offer(settings, rate=RATE, seconds=SECONDS))
        await asyncio.sleep(3)  # let the load settle
        probes = []
        for i in range(int((SECONDS - 5) * PROBES_PER_S)):
            anon = f"probe-{run_id}-{i}"
            probes.append(asyncio.create_task(_probe(client, collector, lookup, anon)))
            await asyncio.sleep(1 / PROBES_PER_S)
        results = [r for r in await asyncio.gather(*probes) if r is not None]
        await load
    return results


def run() -> BenchResult:
    result = BenchResult(
        "segments", "the probe's own event: collector receive → row in siyu.events"
    )
    receiver = LocalReceiver(SECRET, free_port()).start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = local_settings(Path(tmp))
        stack = Stack(settings)
        stack.start()
        collector = f"http://127.0.0.1:{settings.collector.port}"
        lookup = f"http://127.0.0.1:{settings.lookup.port}"
        admin = {"X-Siyu-Key": "demo-admin-key"}
        try:
            httpx.post(
                f"{lookup}/v1/segments",
                json={"name": SEGMENT, "expression": "has(properties.bench_probe)"},
                headers=admin,
            ).raise_for_status()
            httpx.post(
                f"{lookup}/v1/subscriptions",
                json={"url": receiver.url, "secret": SECRET, "segments": [SEGMENT]},
                headers=admin,
            ).raise_for_status()
            time.sleep(2)  # the webhook process and workers read the new configuration
            probes = asyncio.run(_measure(collector, lookup, settings))
            time.sleep(5)
            rows = httpx.get(
                f"http://127.0.0.1:{settings.sql.port}/",
                params={
                    "query": "SELECT dateDiff('millisecond', received_at, inserted_at) "
                    "FROM siyu.events WHERE event_id LIKE 'probe-%-v' FORMAT JSONEachRow"
                },
            ).text.splitlines()
        finally:
            stack.stop()
            receiver.stop()
    raw = sorted(float(next(iter(orjson.loads(line).values()))) for line in rows)
    api = sorted(p[1] * 1000 for p in probes)
    sent_by_user = {p[2]: p[0] for p in probes if p[2]}
    hooks: dict[str, float] = {}
    for d in receiver.received:
        user = d.body["user_id"]
        if d.body["change"] == "enter" and user in sent_by_user and d.signature_ok:
            hooks.setdefault(user, (d.received_at - sent_by_user[user]) * 1000)
    webhook = sorted(hooks.values()) + [float("inf")] * (len(sent_by_user) - len(hooks))
    goal = "p99 ≤ 2000 ms"
    result.add("probes", len(probes), "users", goal=f"{PROBES_PER_S}/s under {RATE} events/s")
    result.add("POST → segment in lookup API p50", percentile(api, 50), "ms",
               baseline=percentile(raw, 50))  # fmt: skip
    result.add("POST → segment in lookup API p99", percentile(api, 99), "ms",
               baseline=percentile(raw, 99), goal=goal)  # fmt: skip
    result.add("POST → webhook delivered p50", percentile(webhook, 50), "ms",
               baseline=percentile(raw, 50))  # fmt: skip
    result.add("POST → webhook delivered p99", percentile(webhook, 99), "ms",
               baseline=percentile(raw, 99), goal=goal)  # fmt: skip
    result.notes = (
        "2 shared cores; the load generator, the probes and the receiver run on the same "
        "machine as the stack"
    )
    return result
