"""Shared pieces of the end-to-end benchmarks: a stack on free ports and steady traffic."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from siyu.settings import Settings

__all__ = ["PER_REQUEST", "offer", "rss_kib"]

PER_REQUEST = 20
"""Events per request, all of one device: what an SDK's batch looks like."""


async def offer(
    settings: Settings,
    *,
    rate: int,
    seconds: float,
    devices: int = 5000,
    every_second: Callable[[float], None] | None = None,
) -> tuple[int, int, float]:
    """POST ``rate`` events/s for ``seconds``; return (accepted, failed requests, elapsed)."""
    url = f"http://127.0.0.1:{settings.collector.port}/v1/batch"
    interval = PER_REQUEST / rate
    accepted = failed = 0
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(
        headers={"X-Siyu-Key": "demo-write-key"}, timeout=30, limits=limits
    ) as client:

        async def post(i: int) -> None:
            nonlocal accepted, failed
            now = time.time_ns() // 1_000_000
            body = [
                {
                    "event_id": f"bench-{i}-{j}",
                    "event": "view_product",
                    "time": now,
                    "platform": "h5",
                    "identities": {"anonymous_id": f"a{i % devices}"},
                    "properties": {"product_id": f"p{j}", "price": 19.9},
                }
                for j in range(PER_REQUEST)
            ]
            try:
                answer = await client.post(url, content=orjson.dumps(body))
            except httpx.HTTPError:
                failed += 1
                return
            if answer.status_code == 200:
                accepted += answer.json()["accepted"]
            else:
                failed += 1

        started = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        next_tick = started + 1
        for i in range(int(seconds * rate / PER_REQUEST)):
            due = started + i * interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(post(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if every_second is not None and time.perf_counter() >= next_tick:
                every_second(time.perf_counter() - started)
                next_tick += 1
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return accepted, failed, elapsed


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cpu_s(pid: int, *, children: bool = True) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and, with ``children``, its live
    child processes (the collector's and lookup's server workers)."""
    total = 0.0
    for p in (pid, *(_children(pid) if children else ())):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
