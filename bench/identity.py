"""Identity benchmark: resolution events/s per worker, state bytes per identity, lookup p99.

1. Events/s through one Faust worker running only the identity agents
   (``streams.agents.stitch``: retry window, fast path, link agent) on the embedded
   broker, 4 partitions. Records are SDK-like: one device's ``PER_RECORD`` events.
   *cold*: every device is new (each record goes through the link agent once);
   *warm*: the same devices again (the fast path). Measured from the worker's own
   counter once the producer is done. Baseline, same run and records: a raw aiokafka
   consumer reading ``events.raw``. Goal: >= 20,000 events/s.
2. Bytes of state per identity: the graph table's changelog (identity keys, user
   records, sequence; last value per key), and the same keys held as Python bytes in a
   dict (the memory store), divided by the identities. Goal: <= 300 B.
3. Lookup p99 at ``LOOKUP_RATE`` requests/s (open loop: latency counts from the planned
   send time) against ``siyu lookup``'s app fed from ``identity.map``. Baseline: the
   same server answering a constant JSON body. Goal: p99 < 5 ms.

``python -m bench.identity`` (``make bench-identity``) prints the figures and writes
bench/results/identity.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import asdict
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.core import BenchResult, percentile
from bench.traffic import cpu_s, open_loop
from collectors.keys import primary_identity
from schemas.records import EventBatch, TrackEvent, encode_batch
from siyu.broker import start_broker
from siyu.broker_quirks import for_quirks
from siyu.ports import free_port, local_settings
from siyu.settings import Settings
from siyu.topics import ensure_topics

__all__ = ["run"]

RESULTS = Path(__file__).parent / "results"
DEVICES = int(os.environ.get("BENCH_IDENTITY_DEVICES", "10000"))
PER_RECORD = 20
LOOKUP_RATE = int(os.environ.get("BENCH_IDENTITY_LOOKUP_RATE", "2000"))
LOOKUP_SECONDS = float(os.environ.get("BENCH_IDENTITY_LOOKUP_SECONDS", "10"))
APP_ID = "siyu"
_HEADERS = "Host: bench\r\nX-Siyu-Key: demo-read-key\r\n"


def _device_records(round_: int, now: int) -> list[tuple[bytes, bytes]]:
    """One record per device: H5 devices, a fifth logged in, mini-program users with a
    unionid. The same identities every round."""
    out = []
    for d in range(DEVICES):
        if d % 3 == 0:
            ids = {"wx_openid:wxbench": f"o{d:08d}", "wx_unionid": f"un{d:08d}"}
            platform = "miniprogram"
        else:
            ids = {"anonymous_id": f"anon-{d:08d}"}
            platform = "h5"
        if d % 5 == 0:
            ids["login_id"] = f"member{d:08d}"
        events = tuple(
            TrackEvent(
                event_id=f"r{round_}-d{d}-{i}",
                type="track",
                event="$pageview" if i % 4 else "view_product",
                time=now + i,
                platform=platform,
                identities=ids,
                properties={"$url_path": f"/pages/item/{i}", "product_id": f"p{i % 50}"},
                context={"lib": {"name": "bench", "version": "0"}, "scene": 1007},
            )
            for i in range(PER_RECORD)
        )
        key = primary_identity(ids)
        batch = EventBatch("default", key, now, events, sent_at=now, ip="127.0.0.1")
        out.append((key.encode(), encode_batch(batch)))
    return out


async def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _resolved(metrics_url: str) -> float:
    total = 0.0
    for line in httpx.get(metrics_url, timeout=5).text.splitlines():
        if line.startswith("siyu_identity_events_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _phase(
    settings: Settings, records: list[tuple[bytes, bytes]], metrics_url: str, pid: int
) -> tuple[float, float]:
    """(events/s, events per CPU second) of the worker on ``records``, counted once the
    producer is done. The second figure is what one worker does with a core of its own;
    it does not move when other processes load the machine."""
    start = _resolved(metrics_url)
    target = start + len(records) * PER_RECORD
    asyncio.run(_produce(settings.kafka.bootstrap, settings.kafka.topic("events.raw"), records))
    t1, c1, cpu1 = time.perf_counter(), _resolved(metrics_url), cpu_s(pid, children=False)
    done = c1
    while done < target:
        time.sleep(0.05)
        done = _resolved(metrics_url)
    t2, cpu2 = time.perf_counter(), cpu_s(pid, children=False)
    if target - c1 < 0.2 * (target - start):
        raise RuntimeError("the worker kept up with the producer: raise BENCH_IDENTITY_DEVICES")
    return (done - c1) / (t2 - t1), (done - c1) / max(cpu2 - cpu1, 1e-9)


async def _raw_consume(bootstrap: str, topic: str, records: int) -> tuple[float, float]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen = 0
        started, cpu = time.perf_counter(), time.process_time()
        while seen < records:
            found = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(v) for v in found.values())
        events = records * PER_RECORD
        return (
            events / (time.perf_counter() - started),
            events / max(time.process_time() - cpu, 1e-9),
        )
    finally:
        await consumer.stop()


async def _read_topic(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    """Last value per key of a topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer.topics()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await for_quirks("tansu").end_offsets(bootstrap, tps)
        latest: dict[bytes, bytes] = {}
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for r in records:
                    if r.key is not None and r.value is not None:
                        latest[r.key] = r.value
        return latest
    finally:
        await consumer.stop()


def _state_bytes(bootstrap: str) -> tuple[float, float, int]:
    """(serialized bytes, in-memory bytes) per identity, and the identities."""
    latest = asyncio.run(_read_topic(bootstrap, f"{APP_ID}-identity_graph-changelog"))
    identities = sum(1 for k in latest if k.startswith(b"i\x1f"))
    serialized = sum(len(k) + len(v) for k, v in latest.items())
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = {bytes(bytearray(k)): bytes(bytearray(v)) for k, v in latest.items()}
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del store
    return serialized / identities, held / identities, identities


# -- lookup ---------------------------------------------------------------------------------
async def _load(port: int, paths: list[str], rate: int, seconds: float) -> list[float]:
    """Open-loop GETs over keep-alive connections; latency from the planned send time."""
    answers = await open_loop(
        port,
        lambda i: f"GET {paths[i % len(paths)]} HTTP/1.1\r\n{_HEADERS}\r\n".encode(),
        count=int(rate * seconds),
        rate=rate,
    )
    return [latency for latency, _, _ in answers]


def _serve(mode: str, settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **{k: str(v) for k, v in settings.child_env().items()}}
    return subprocess.Popen(
        [sys.executable, "-m", "bench.identity_procs", mode, str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait_ok(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def _lookup_p99(settings: Settings, tmp: Path, result: BenchResult) -> None:
    paths = [f"/v1/users/anonymous_id/anon-{d:08d}" for d in range(1, DEVICES, 3)]
    paths += [f"/v1/users/wx_unionid/un{d:08d}" for d in range(0, DEVICES, 3)]
    random.Random(3).shuffle(paths)
    p99: dict[str, float] = {}
    cpu_us: dict[str, float] = {}
    for mode in ("echo", "lookup"):
        port = free_port()
        proc = _serve(mode, settings, port, tmp / f"{mode}.log")
        try:
            _wait_ok(f"http://127.0.0.1:{port}/healthz")
            assert (
                httpx.get(f"http://127.0.0.1:{port}{paths[0]}?key=demo-read-key").status_code == 200
            )
            asyncio.run(_load(port, paths, LOOKUP_RATE, 2))  # warm up
            before = cpu_s(proc.pid)
            latencies = asyncio.run(_load(port, paths, LOOKUP_RATE, LOOKUP_SECONDS))
            cpu_us[mode] = (cpu_s(proc.pid) - before) / len(latencies) * 1e6
            p99[mode] = percentile(latencies, 99) * 1000
        finally:
            proc.terminate()
            proc.wait(15)
    result.add(
        f"lookup p99 at {LOOKUP_RATE} req/s",
        p99["lookup"],
        "ms",
        baseline=p99["echo"],
        goal="< 5",
    )
    result.add("lookup server CPU per request", cpu_us["lookup"], "µs", baseline=cpu_us["echo"])


def run() -> BenchResult:
    result = BenchResult("identity", "raw aiokafka consume of events.raw / constant-JSON server")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        settings = local_settings(tmp / "data")
        broker = start_broker(settings.kafka.bootstrap, tmp / "broker.log")
        worker: subprocess.Popen[bytes] | None = None
        try:
            asyncio.run(ensure_topics(settings.kafka))
            now = int(time.time() * 1000)
            cold, warm = _device_records(0, now), _device_records(1, now + 60_000)
            worker = _serve("worker", settings, 0, tmp / "worker.log")
            metrics_url = f"http://127.0.0.1:{settings.worker.metrics_port}/metrics"
            deadline = time.monotonic() + 120
            while "siyu_stream_ready 1.0" not in _metrics_text(metrics_url):
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise RuntimeError(f"worker not ready; see {tmp / 'worker.log'}")
                time.sleep(0.3)
            cold_rate, cold_cpu = _phase(settings, cold, metrics_url, worker.pid)
            warm_rate, warm_cpu = _phase(settings, warm, metrics_url, worker.pid)
            raw, raw_cpu = asyncio.run(
                _raw_consume(
                    settings.kafka.bootstrap, settings.kafka.topic("events.raw"), 2 * DEVICES
                )
            )
            result.add(
                "warm (fast path): events per worker CPU second",
                warm_cpu,
                "events/s",
                baseline=raw_cpu,
                goal=">= 20000",
            )
            result.add(
                "cold (every device new): events per worker CPU second",
                cold_cpu,
                "events/s",
                baseline=raw_cpu,
            )
            result.add("warm: events/s wall clock", warm_rate, "events/s", baseline=raw)
            result.add("cold: events/s wall clock", cold_rate, "events/s", baseline=raw)
            serialized, in_memory, identities = _state_bytes(settings.kafka.bootstrap)
            result.add(
                "graph state per identity (changelog bytes)", serialized, "bytes", goal="<= 300"
            )
            result.add("graph state per identity (in memory)", in_memory, "bytes", goal="<= 300")
            result.notes = (
                f"{identities} identities, {DEVICES} devices, {PER_RECORD} events/record; "
                f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus"
            )
            _lookup_p99(settings, tmp, result)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(30)
            broker.terminate()
            broker.wait(10)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "identity.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


def _metrics_text(url: str) -> str:
    try:
        return httpx.get(url, timeout=1).text
    except httpx.HTTPError:
        return ""


if __name__ == "__main__":
    for f in run().figures:
        base = f" (baseline {f.baseline:,.2f})" if f.baseline is not None else ""
        ratio = f" ratio {f.ratio:.2f}" if f.ratio is not None else ""
        sys.stdout.write(f"{f.name}: {f.value:,.2f} {f.unit}{base}{ratio} {f.goal}\n")
