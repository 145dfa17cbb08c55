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
from bench.segment_hops import HOPS, hop_times
from bench.traffic import offer
from siyu.embedded import Stack
from siyu.ports import free_port, local_settings
from siyu.settings import Settings
from webhooks.receiver import LocalReceiver

__all__ = ["run"]

RATE = 1000  # background events/s
SECONDS = 45
WARM_UP_S = 10  # load before the first probe: the figures are for the steady state
PROBES_PER_S = 5
SEGMENT = "bench_probe"
SECRET = "bench-secret"  # noqa: S105 - the local receiver's signing key
READ = {"X-Siyu-Key": "demo-read-key"}


async def _probe(client: httpx.AsyncClient, collector: str, anon: str) -> float | None:
    """POST one probe; return when it was sent (None: refused)."""
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
    return sent if answer.status_code == 200 else None


async def _watch_members(client: httpx.AsyncClient, lookup: str, seen: dict[str, float],
                         stop: asyncio.Event) -> None:  # fmt: skip
    """Poll the segment's member list (one request every 50 ms, not one per probe: the
    measurement must not load the lookup service) and note when each user first shows."""
    url = f"{lookup}/v1/segments/{SEGMENT}/users"
    while not stop.is_set():
        cursor: str | None = ""
        while cursor is not None:
            answer = await client.get(url, params={"cursor": cursor, "limit": 10_000}, headers=READ)
            now = time.time()
            doc = answer.json()
            for user in doc["users"]:
                seen.setdefault(user, now)
            cursor = doc["next_cursor"]
        await asyncio.sleep(0.05)


async def _measure(
    collector: str, lookup: str, settings: Settings
) -> tuple[int, dict[str, float], dict[str, float], dict[str, str]]:
    """Probe under load; return (probes accepted, user id → sent at, user id → first seen
    in the API, user id → the probe's anonymous id)."""
    run_id = uuid.uuid4().hex[:6]
    seen: dict[str, float] = {}
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as client:
        load = asyncio.create_task(offer(settings, rate=RATE, seconds=SECONDS))
        watcher = asyncio.create_task(_watch_members(client, lookup, seen, stop))
        await asyncio.sleep(WARM_UP_S)
        probes: list[tuple[str, asyncio.Task[float | None]]] = []
        for i in range(int((SECONDS - WARM_UP_S - 5) * PROBES_PER_S)):
            anon = f"probe-{run_id}-{i}"
            probes.append((anon, asyncio.create_task(_probe(client, collector, anon))))
            await asyncio.sleep(1 / PROBES_PER_S)
        sent_by_anon = {anon: await task for anon, task in probes}
        await load
        deadline = time.time() + 120
        sent: dict[str, float] = {}
        anons: dict[str, str] = {}
        for anon, at in sent_by_anon.items():
            while at is not None and time.time() < deadline:
                found = await client.get(f"{lookup}/v1/users/anonymous_id/{anon}", headers=READ)
                if found.status_code == 200 and SEGMENT in found.json()["segments"]:
                    sent[found.json()["user_id"]] = at
                    anons[found.json()["user_id"]] = anon
                    break
                await asyncio.sleep(0.5)
        stop.set()
        await watcher
    return sum(at is not None for at in sent_by_anon.values()), sent, seen, anons


def _operator(settings: Settings) -> tuple[str, str]:
    """The SQL endpoint's operator login (``inserted_at`` is not in the project views)."""
    key = settings.sql.operator_key
    if key is None:
        raise RuntimeError("the benchmark needs the SQL endpoint's operator key")
    return ("siyu_operator", key.get_secret_value())


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
            probes, sent_by_user, seen, anons = asyncio.run(_measure(collector, lookup, settings))
            hops = hop_times(settings, anons)
            time.sleep(5)
            rows = httpx.get(
                f"http://127.0.0.1:{settings.sql.port}/",
                params={
                    "query": "SELECT dateDiff('millisecond', received_at, inserted_at) "
                    "FROM siyu.events WHERE event_id LIKE 'probe-%-v' FORMAT JSONEachRow"
                },
                auth=_operator(settings),
            ).text.splitlines()
        finally:
            stack.stop()
            receiver.stop()
    raw = sorted(float(next(iter(orjson.loads(line).values()))) for line in rows)
    api = sorted((seen[u] - at) * 1000 for u, at in sent_by_user.items() if u in seen)
    api += [float("inf")] * (probes - len(api))  # never seen: counted as too late
    hooks: dict[str, float] = {}
    for d in receiver.received:
        user = d.body["user_id"]
        if d.body["change"] == "enter" and user in sent_by_user and d.signature_ok:
            hooks.setdefault(user, (d.received_at - sent_by_user[user]) * 1000)
    webhook = sorted(hooks.values()) + [float("inf")] * (probes - len(hooks))
    goal = "p99 ≤ 2000 ms"
    result.add("probes", probes, "users", goal=f"{PROBES_PER_S}/s under {RATE} events/s")
    result.add("POST → segment in lookup API p50", percentile(api, 50), "ms",
               baseline=percentile(raw, 50))  # fmt: skip
    result.add("POST → segment in lookup API p99", percentile(api, 99), "ms",
               baseline=percentile(raw, 99), goal=goal)  # fmt: skip
    result.add("POST → webhook delivered p50", percentile(webhook, 50), "ms",
               baseline=percentile(raw, 50))  # fmt: skip
    result.add("POST → webhook delivered p99", percentile(webhook, 99), "ms",
               baseline=percentile(raw, 99), goal=goal)  # fmt: skip
    sent_by_anon = {anons[u]: at for u, at in sent_by_user.items()}
    for topic in HOPS:  # where the change waits: each hop's record, from the POST
        waits = sorted((t - sent_by_anon[a]) * 1000 for a, t in hops[topic].items())
        for p in (50, 99):
            result.add(f"POST → first record on {topic} p{p}", percentile(waits, p), "ms")
    result.notes = (
        "2 shared cores; the load generator, the probes and the receiver run on the same "
        "machine as the stack"
    )
    return result
