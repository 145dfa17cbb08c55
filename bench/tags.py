"""Tag benchmark: evaluation throughput per worker, event → tag latency, memory per user.

1. Events/s through one worker's tag work, in process: Avro-decode each events.stitched
   record (one request's events of one user), decode the user's state document, fold the
   events and evaluate the shipped default tag set (facts, sources, rolling windows,
   lifecycle, RFM, value tier, referral, content interest, the CEL workflow rules), encode
   the state and the tags.changes record. Baseline, same run and same records: the
   per-user event count of ``streams.agents.counts`` (decode, JSON state, encode).
   Goal: >= 20,000 events/s.
2. HTTP → tag visible latency on the embedded stack under a steady ``RATE`` events/s
   (default 5,000, and a lighter 1,000 at which the whole stack keeps up): probe
   requests with a known event id, timed until ClickHouse holds the tag change they
   caused (``siyu.tag_changes.cause``). Baseline: the same probes until their raw event
   is in ``siyu.events``; the same in the lookup API. Also measured with no background
   traffic ("idle"). Goal: p99 <= 2 s.
3. Memory per user: the stored state document (what the memory store keeps per key) and
   the timer schedule entry, averaged over the benchmark's users.

``python -m bench.tags`` (``make bench-tags``) prints the figures and writes
bench/results/tags.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from dataclasses import asdict
from pathlib import Path

import httpx
import orjson

from bench.core import BenchResult, percentile
from bench.traffic import offer
from schemas.records import EventBatch, decode_batch, encode_batch
from schemas.tag_records import encode_tag_changes
from sinks.demo_data import _track
from siyu.demo import demo_events
from siyu.embedded import Stack
from siyu.ports import local_settings
from streams.domain.tags import apply_events
from streams.tag_files import load_definitions
from streams.tag_schedule import DueSchedule

__all__ = ["run"]

RESULTS = Path(__file__).parent / "results"
USERS = int(os.environ.get("BENCH_TAGS_USERS", "4000"))
RATE = int(os.environ.get("BENCH_TAGS_RATE", "5000"))
LIGHT_RATE = int(os.environ.get("BENCH_TAGS_LIGHT_RATE", "1000"))
"""A second, lighter rate: the latency of the tag path when the whole stack keeps up."""
SECONDS = float(os.environ.get("BENCH_TAGS_SECONDS", "40"))
PROBE_EVERY_S = 0.25


def _records(users: int) -> tuple[list[bytes], int]:
    now = int(time.time() * 1000)
    records: list[tuple[int, bytes]] = []
    events = 0
    for n, batches in enumerate(demo_events(users=users, days=7, seed=42, now_ms=now)):
        user_id = f"bench-{n}"
        for i, batch in enumerate(batches):
            tracked = tuple(_track(d, user_id) for d in batch)
            events += len(tracked)
            record = EventBatch("default", user_id, now, tracked, origin="events.raw/0")
            records.append((tracked[0].time + i, encode_batch(record)))
    records.sort(key=lambda r: r[0])
    return [r for _, r in records], events


def _tag_pass(records: list[bytes], states: dict[str, bytes]) -> float:
    defs = load_definitions()
    now = int(time.time() * 1000)
    started = time.perf_counter()
    for offset, raw in enumerate(records):
        batch = decode_batch(raw)
        old = states.get(batch.key)
        doc = orjson.loads(old) if old else {"v": None, "o": {}}
        result = apply_events(
            defs, doc["v"], batch.events, now, user_id=batch.key, project=batch.project,
            owned=True,
        )  # fmt: skip
        doc["v"], doc["o"]["events.raw/0"] = result.profile, offset
        states[batch.key] = orjson.dumps(doc)
        if result.changes:
            encode_tag_changes(batch.project, batch.key, result.changes)
    return time.perf_counter() - started


def _count_pass(records: list[bytes]) -> float:
    counts: dict[str, bytes] = {}
    started = time.perf_counter()
    for offset, raw in enumerate(records):
        batch = decode_batch(raw)
        old = counts.get(batch.key)
        doc = orjson.loads(old) if old else {"v": 0, "o": {}}
        doc["v"], doc["o"]["events.raw/0"] = doc["v"] + len(batch.events), offset
        counts[batch.key] = orjson.dumps(doc)
    return time.perf_counter() - started


def _memory(states: dict[str, bytes]) -> tuple[float, float]:
    """(state bytes per user, schedule bytes per user)."""
    per_state = sum(len(v) + len(k) for k, v in states.items()) / len(states)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    schedule = DueSchedule()
    for n, key in enumerate(states):
        schedule.set(key, 1_800_000_000_000 + n)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return per_state, grown / len(states)


def _sql(client: httpx.Client, url: str, query: str) -> list[str]:
    answer = client.post(url, content=query.encode(), auth=("default", "demo-read-key"))
    answer.raise_for_status()
    return [line for line in answer.text.splitlines() if line]


def _probe_body(probe: str) -> bytes:
    event = {
        "event_id": probe,
        "event": "view_product",
        "platform": "h5",
        "identities": {"anonymous_id": probe},
        "properties": {"category": "probe"},
    }
    return orjson.dumps([event])


def _latency(result: BenchResult, rate: int) -> None:
    """Probe latency under ``rate`` events/s of background traffic (0: none)."""
    seconds = SECONDS if rate else SECONDS / 2
    with tempfile.TemporaryDirectory() as tmp:
        settings = local_settings(Path(tmp))
        stack = Stack(settings)
        stack.start()
        try:
            collector = f"http://127.0.0.1:{settings.collector.port}/v1/batch"
            sql = f"http://127.0.0.1:{settings.sql.port}/"
            lookup = f"http://127.0.0.1:{settings.lookup.port}/v1/users/anonymous_id/"
            load = threading.Thread(
                target=lambda: rate and asyncio.run(offer(settings, rate=rate, seconds=seconds)),
                daemon=True,
            )
            load.start()
            sent: dict[str, float] = {}
            seen: dict[str, dict[str, float]] = {"tag": {}, "raw": {}, "lookup": {}}
            client = httpx.Client(timeout=30, headers={"X-Siyu-Key": "demo-write-key"})
            reader = httpx.Client(timeout=30, headers={"X-Siyu-Key": "demo-read-key"})
            started = time.monotonic()
            next_probe = started + 3  # let the load settle first
            while time.monotonic() - started < seconds or (
                len(seen["tag"]) < len(sent) and time.monotonic() - started < seconds + 30
            ):
                now = time.monotonic()
                if now - started < seconds and now >= next_probe:
                    probe = f"probe-{uuid.uuid4().hex}"
                    sent[probe] = time.monotonic()
                    client.post(collector, content=_probe_body(probe))
                    next_probe += PROBE_EVERY_S
                pending = [p for p in sent if p not in seen["tag"] or p not in seen["lookup"]]
                if pending:
                    ids = ",".join(f"'{p}'" for p in pending)
                    for cause in _sql(
                        client,
                        sql,
                        f"SELECT DISTINCT cause FROM siyu.tag_changes WHERE cause IN ({ids})",
                    ):
                        seen["tag"].setdefault(cause, time.monotonic())
                    for event_id in _sql(
                        client, sql, f"SELECT event_id FROM siyu.events WHERE event_id IN ({ids})"
                    ):
                        seen["raw"].setdefault(event_id, time.monotonic())
                    for p in [p for p in pending if p not in seen["lookup"]][:20]:
                        answer = reader.get(lookup + p)
                        if answer.status_code == 200 and answer.json().get("tags"):
                            seen["lookup"].setdefault(p, time.monotonic())
                time.sleep(0.05)
            delays = {k: [v[p] - t for p, t in sent.items() if p in v] for k, v in seen.items()}
            raw = delays["raw"]
            label = f"{rate} ev/s" if rate else "idle"
            for kind, name in (("tag", "ClickHouse"), ("lookup", "lookup API")):
                for q, goal in ((99, "<= 2 s"), (50, "")):
                    result.add(
                        f"p{q} event→tag in {name}, {label}",
                        percentile(delays[kind], q),
                        "s",
                        baseline=percentile(raw, q),
                        goal=goal,
                    )
            result.add(f"probes seen / sent, {label}", len(delays["tag"]), "probes",
                       baseline=len(sent))  # fmt: skip
        finally:
            stack.stop()


def run() -> BenchResult:
    result = BenchResult(stage="tags", baseline="per-user event count (decode, JSON state, encode)")
    records, events = _records(USERS)
    _tag_pass(records[:2000], {})  # warm up
    tag_s = min(_tag_pass(records, {}) for _ in range(2))
    count_s = min(_count_pass(records) for _ in range(2))
    result.add(
        "events/s per worker, default tag set",
        events / tag_s,
        "events/s",
        baseline=events / count_s,
        goal=">= 20000",
    )
    result.add("events per record (demo traffic)", events / len(records), "events")
    states: dict[str, bytes] = {}
    _tag_pass(records, states)
    per_state, per_schedule = _memory(states)
    result.add("state per user", per_state, "bytes")
    result.add("timer schedule per user", per_schedule, "bytes")
    if os.environ.get("BENCH_TAGS_LATENCY", "1") != "0":
        for rate in (0, LIGHT_RATE, RATE):
            _latency(result, rate)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tags.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


if __name__ == "__main__":
    for f in run().figures:
        base = f" (baseline {f.baseline:,.3f})" if f.baseline is not None else ""
        ratio = f" ratio {f.ratio:.2f}" if f.ratio is not None else ""
        sys.stdout.write(f"{f.name}: {f.value:,.3f} {f.unit}{base}{ratio} {f.goal}\n")
