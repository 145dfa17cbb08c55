"""Load: 5k events/s for 5 minutes against the embedded stack (loopback only, bounded).

Reports each process's memory at the end of the first minute and at the end (flat means
no leak), the largest and the final consumer lag, and failed requests. The baseline is
the same stack idle for 30 s before the load starts.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from pathlib import Path

from bench.core import BenchResult
from bench.traffic import cpu_s, offer, rss_kib
from siyu.embedded import Stack
from siyu.ports import local_settings

__all__ = ["run"]

RATE = int(os.environ.get("SIYU_BENCH_LOAD_RATE", "5000"))
SECONDS = float(os.environ.get("SIYU_BENCH_LOAD_SECONDS", "300"))
SAMPLE_EVERY_S = 10


def _rss(stack: Stack) -> dict[str, int]:
    out = {n: rss_kib(c.proc.pid) for n, c in stack.children.items() if c.alive() and c.proc}
    if stack.broker is not None:
        out["broker"] = rss_kib(stack.broker.pid)
    return out


def _cpu(stack: Stack) -> dict[str, float]:
    out = {n: cpu_s(c.proc.pid) for n, c in stack.children.items() if c.alive() and c.proc}
    if stack.broker is not None:
        out["broker"] = cpu_s(stack.broker.pid)
    out["load generator"] = cpu_s(os.getpid(), children=False)
    return out


def run() -> BenchResult:
    result = BenchResult("load", "the same stack idle before the load")
    with tempfile.TemporaryDirectory() as tmp:
        settings = local_settings(Path(tmp))
        stack = Stack(settings)
        stack.start()
        try:
            time.sleep(30)
            idle = _rss(stack)
            samples: list[tuple[float, dict[str, int], int]] = []
            done = threading.Event()
            started = time.perf_counter()
            cpu_before = _cpu(stack)

            def sample() -> None:
                while not done.wait(SAMPLE_EVERY_S):
                    lag = asyncio.run(stack.lag())
                    samples.append((time.perf_counter() - started, _rss(stack), lag))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            accepted, failed, elapsed = asyncio.run(offer(settings, rate=RATE, seconds=SECONDS))
            cpu_used = {n: t - cpu_before.get(n, 0.0) for n, t in _cpu(stack).items()}
            done.set()
            sampler.join()
            drained_in = time.perf_counter()
            stack.drain(timeout=300)
            drained_in = time.perf_counter() - drained_in
            final = _rss(stack)
            lag_after = asyncio.run(stack.lag())
        finally:
            stack.stop()
    minute = next((s for at, s, _ in samples if at >= 60), samples[0][1] if samples else idle)
    result.add(
        "events/s accepted", accepted / elapsed, "events/s", goal=f"{RATE} for {SECONDS:.0f} s"
    )
    result.add("failed requests", failed, "requests", goal="0")
    largest = max((lag for *_, lag in samples), default=0)
    result.add("largest lag during the load", largest, "records")
    cores = os.cpu_count() or 1
    for name in sorted(cpu_used, key=lambda n: -cpu_used[n]):
        result.add(f"CPU {name} during the load", cpu_used[name] / elapsed, "cores")
    result.notes += f"{cores} cores; CPU in cores = CPU seconds / wall seconds of the load. "
    result.add("drain time after the load", drained_in, "s")
    result.add("lag after drain", lag_after, "records", goal="0")
    for name in sorted(final):
        result.add(
            f"RSS {name} at end (vs 1 min in)",
            final[name] / 1024,
            "MiB",
            baseline=minute.get(name, 0) / 1024,
            goal="flat",
        )
        result.add(f"RSS {name} idle", idle.get(name, 0) / 1024, "MiB")
    return result
