"""Shared pieces of the end-to-end benchmarks: a stack on free ports and steady traffic."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from siyu.settings import Settings

__all__ = ["PER_REQUEST", "offer", "open_loop", "rss_kib"]

PER_REQUEST = 20
"""Events per request, all of one device: what an SDK's batch looks like."""


async def open_loop(
    port: int,
    request: Callable[[int], bytes],
    *,
    count: int,
    rate: float,
    connections: int = 32,
    every_second: Callable[[float], None] | None = None,
) -> list[tuple[float, int, bytes]]:
    """Send ``count`` HTTP/1.1 requests (``request(i)`` gives the bytes of the i-th) at
    ``rate`` per second over keep-alive connections; return (latency, status, body) per
    request, latency measured from the planned send time (open loop: a slow answer does
    not delay the next request). Status 0 means the connection failed.

    Raw asyncio streams on purpose: an HTTP client library costs the load generator
    several times the CPU of the server under test, and here they share 2 cores."""
    queue: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()
    answers: list[tuple[float, int, bytes]] = []

    async def connection() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while (item := await queue.get()) is not None:
            planned, i = item
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                assert reader is not None
                writer.write(request(i))
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                answers.append((time.perf_counter() - planned, int(head.split(b" ", 2)[1]), body))
            except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
                answers.append((time.perf_counter() - planned, 0, b""))
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    started = time.perf_counter()
    next_tick = started + 1
    for i in range(count):
        planned = started + i / rate
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((planned, i))
        if every_second is not None and time.perf_counter() >= next_tick:
            every_second(time.perf_counter() - started)
            next_tick += 1
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return answers


async def offer(
    settings: Settings,
    *,
    rate: int,
    seconds: float,
    devices: int = 5000,
    every_second: Callable[[float], None] | None = None,
) -> tuple[int, int, float]:
    """POST ``rate`` events/s for ``seconds``; return (accepted, failed requests, elapsed)."""
    head = (
        "POST /v1/batch HTTP/1.1\r\nHost: bench\r\nX-Siyu-Key: demo-write-key\r\n"
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n"
    )

    def request(i: int) -> bytes:
        now = time.time_ns() // 1_000_000
        body = orjson.dumps(
            [
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
        )
        return head.format(len(body)).encode() + body

    started = time.perf_counter()
    answers = await open_loop(
        settings.collector.port,
        request,
        count=int(seconds * rate / PER_REQUEST),
        rate=rate / PER_REQUEST,
        connections=64,
        every_second=every_second,
    )
    elapsed = time.perf_counter() - started
    accepted = sum(orjson.loads(body)["accepted"] for _, status, body in answers if status == 200)
    return accepted, sum(1 for _, status, _ in answers if status != 200), elapsed


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
