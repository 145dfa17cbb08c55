"""Broker memory on a long run: 2,000 events/s for 30 minutes against the embedded stack.

The embedded broker keeps its log in memory; the supervisor restarts it empty once its
resident memory passes ``SIYU_KAFKA_EMBEDDED_RESTART_RSS_MB`` while the collector keeps
accepting. Goal: the broker's RSS at the end within 1.5× of its RSS 5 minutes in, and
every accepted event in ``siyu.events`` (no loss across the restarts).

Knobs (environment): ``SIYU_BENCH_BROKER_RATE`` (2000), ``SIYU_BENCH_BROKER_SECONDS``
(1800), ``SIYU_BENCH_BROKER_SETTLE_S`` (300: when the reference RSS is taken),
``SIYU_BENCH_BROKER_DRAIN_S`` (600: longest wait for every accepted event to be stored).
Run: ``python -m bench.broker_memory`` (or ``python -m bench broker_memory``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from bench.core import BenchResult
from bench.traffic import offer, rss_kib
from siyu.embedded import Stack
from siyu.inspect import SqlError, run_sql
from siyu.ports import local_settings

__all__ = ["run"]

logger = logging.getLogger(__name__)

RATE = int(os.environ.get("SIYU_BENCH_BROKER_RATE", "2000"))
SECONDS = float(os.environ.get("SIYU_BENCH_BROKER_SECONDS", "1800"))
SETTLE_S = float(os.environ.get("SIYU_BENCH_BROKER_SETTLE_S", "300"))
DRAIN_S = float(os.environ.get("SIYU_BENCH_BROKER_DRAIN_S", "600"))
SAMPLE_EVERY_S = 5


def _stored(stack: Stack) -> int:
    query = "SELECT count(DISTINCT event_id) FROM siyu.events WHERE event_id LIKE 'bench-%'"
    try:
        return int(run_sql(stack.settings, query).strip())
    except SqlError:
        return -1


def run() -> BenchResult:
    result = BenchResult("broker_memory", "the broker's RSS after the settling time")
    with tempfile.TemporaryDirectory() as tmp:
        settings = local_settings(Path(tmp))
        stack = Stack(settings)
        stack.start()
        samples: list[tuple[float, int]] = []
        try:
            done = threading.Event()
            started = time.perf_counter()

            def supervise() -> None:
                # What `siyu run` does once a second, plus a memory sample.
                while not done.wait(1):
                    stack.supervise_once()
                    at = time.perf_counter() - started
                    if stack.broker is not None and (not samples or at - samples[-1][0] >= 5):
                        samples.append((at, rss_kib(stack.broker.pid)))

            supervisor = threading.Thread(target=supervise, daemon=True)
            supervisor.start()
            accepted, failed, elapsed = asyncio.run(offer(settings, rate=RATE, seconds=SECONDS))
            done.set()
            supervisor.join()
            end_rss = rss_kib(stack.broker.pid) if stack.broker else 0
            deadline = time.monotonic() + DRAIN_S
            stored = _stored(stack)
            while stored < accepted and time.monotonic() < deadline:
                stack.supervise_once()
                time.sleep(5)
                stored = _stored(stack)
        finally:
            stack.stop()
    settled = next((kib for at, kib in samples if at >= SETTLE_S), samples[-1][1] if samples else 0)
    result.add(
        "events/s accepted", accepted / elapsed, "events/s", goal=f"{RATE} for {SECONDS:.0f} s"
    )
    result.add("failed requests", failed, "requests", goal="0")
    result.add("broker restarts (memory)", stack.rotation.rotations, "restarts")
    result.add(
        "broker RSS at end",
        end_rss / 1024,
        "MiB",
        baseline=settled / 1024,
        goal=f"≤ 1.5× RSS at {SETTLE_S:.0f} s",
    )
    result.add("broker RSS peak", max((k for _, k in samples), default=0) / 1024, "MiB")
    result.add("accepted events missing from siyu.events", accepted - stored, "events", goal="0")
    result.notes += (
        f"restart at {settings.kafka.embedded_restart_rss_mb} MiB RSS; "
        f"RSS samples (s, MiB): {json.dumps([(round(a), k // 1024) for a, k in samples[::12]])}"
    )
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    outcome = run()
    for figure in outcome.figures:
        logger.info("%s", figure)
    logger.info("%s", outcome.notes)
