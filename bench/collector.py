"""Collector throughput: batched POST events/s, single-event beacons/s, p50/p99 latency.

Every server runs as one worker pinned to CPU 0 (``taskset``), the load generator
(``wrk``, one thread) to CPU 1, so the figures are per core. Baseline, in the same run: a
bare ASGI echo app (reads the body, answers 200) on the same server. The collector runs
with a producer that discards the Avro-encoded records, so the figures are the HTTP
service's own cost (parsing, validation, enrichment, encoding); Kafka is measured by
the pipeline benchmarks.

``python -m bench.collector`` prints the figures and writes bench/results/collector.json.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.core import BenchResult

__all__ = ["collector_app", "echo_app", "run"]

DURATION_S = int(os.environ.get("BENCH_COLLECTOR_SECONDS", "8"))
CONNECTIONS = 32
EVENTS_PER_BATCH = 50
UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44 NetType/WIFI Language/zh_CN"
)
RESULTS = Path(__file__).parent / "results"


class _DiscardingProducer:
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_many(self, messages: Sequence[Any]) -> None:
        return None


def collector_app() -> Any:
    """Server factory: the real collector app with a producer that drops its records."""
    from collectors.app import build_app
    from siyu.settings import Settings

    return build_app(Settings(), _DiscardingProducer())


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline: read the whole body, answer ``200 ok``."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


def _events(n: int, offset: int = 0) -> list[dict[str, Any]]:
    now = time.time_ns() // 1_000_000
    return [
        {
            "event_id": f"bench-{offset + i:010d}-{os.getpid()}",
            "type": "track",
            "event": ("$MPViewScreen", "view_product", "add_to_cart")[i % 3],
            "time": now - 1000 + i,
            "platform": "miniprogram",
            "identities": {"anonymous_id": f"anon-{i % 10}", "wx_openid:wx1234": f"o-{i % 10}"},
            "properties": {
                "$url_path": "/pages/item",
                "product_id": f"p{i}",
                "category": "shoes",
                "price": 12.5,
                "$title": "商品详情",
                "$scene": 1007,
                "$screen_width": 390,
                "$screen_height": 844,
                "$network_type": "wifi",
            },
            "context": {"lib": {"name": "siyu-js", "version": "0.1.0"}, "scene": 1007},
        }
        for i in range(n)
    ]


def _sensors_batch(n: int) -> bytes:
    """A sa-sdk-miniprogram batch as its gzip plugin sends it: ``data_list=<base64 gzip>``."""
    import base64
    import gzip
    from urllib.parse import quote

    now = time.time_ns() // 1_000_000
    events = [
        {
            "_track_id": 100_000 + i,
            "time": now - 1000 + i,
            "type": "track",
            "event": ("$MPViewScreen", "view_product", "add_to_cart")[i % 3],
            "distinct_id": f"d-{i % 10}",
            "identities": {"$identity_mp_id": f"d-{i % 10}", "$identity_mp_openid": f"o-{i % 10}"},
            "lib": {"$lib": "MiniProgram", "$lib_method": "code", "$lib_version": "1.22.7"},
            "properties": {
                "$lib": "MiniProgram",
                "$app_id": "wx1234",
                "$url_path": "pages/item/item",
                "product_id": f"p{i}",
                "category": "shoes",
                "price": 12.5,
                "$title": "商品详情",
                "$scene": "wx-1007",
                "$screen_width": 390,
                "$network_type": "wifi",
            },
            "_flush_time": now,
        }
        for i in range(n)
    ]
    packed = base64.b64encode(gzip.compress(orjson.dumps(events))).decode()
    return f"data_list={quote(packed, safe='')}&gzip=1".encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(kind: str, target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    py = sys.executable
    if kind == "granian":
        argv = [
            py,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--http",
            "1",
            "--no-ws",
            "--log-level",
            "warning",
            "--backlog",
            "2048",
        ]
        argv += ["--factory", target] if target.endswith("collector_app") else [target]
    else:
        argv = [
            py,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
            "--lifespan",
            "on",
        ]
        argv += ["--factory", target] if target.endswith("collector_app") else [target]
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{kind} {target} did not start")


_LUA = """
wrk.method = "{method}"
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
if wrk.body == "" then wrk.body = nil end
wrk.headers["Content-Type"] = "{ctype}"
wrk.headers["X-Siyu-Key"] = "demo-write-key"
wrk.headers["User-Agent"] = "{ua}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout,
    e.status))
end
"""


def _wrk(url: str, *, method: str, body: bytes, ctype: str, tmp: Path) -> dict[str, float]:
    body_file = tmp / f"body-{len(body)}-{method}"
    body_file.write_bytes(body)
    script = tmp / "load.lua"
    script.write_text(_LUA.format(method=method, body=body_file, ctype=ctype, ua=UA))
    subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{CONNECTIONS}", "-d1s", "-s", str(script), url],
        capture_output=True,
        check=True,
    )  # warm-up
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{DURATION_S}s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, duration_us, p50, p99, errors, non2xx = (int(v) for v in line.split()[1:])
    return {
        "rps": requests / (duration_us / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "errors": errors,
        "non2xx": non2xx,
    }


def _measure(kind: str, tmp: Path, env: dict[str, str]) -> dict[str, dict[str, float]]:
    batch = orjson.dumps(
        {"sent_at": time.time_ns() // 1_000_000, "events": _events(EVENTS_PER_BATCH)}
    )
    beacon = orjson.dumps(_events(1, offset=10_000))
    out: dict[str, dict[str, float]] = {}
    port = _free_port()
    proc = _server(kind, "bench.collector:echo_app", port, env)
    try:
        out["echo_beacon"] = _wrk(
            f"http://127.0.0.1:{port}/v1/batch",
            method="POST",
            body=beacon,
            ctype="text/plain",
            tmp=tmp,
        )
    finally:
        proc.terminate()
        proc.wait(10)
    port = _free_port()
    proc = _server(kind, "bench.collector:collector_app", port, env)
    try:
        url = f"http://127.0.0.1:{port}"
        out["batch"] = _wrk(
            f"{url}/v1/batch", method="POST", body=batch, ctype="application/json", tmp=tmp
        )
        out["beacon"] = _wrk(
            f"{url}/v1/batch?key=demo-write-key",
            method="POST",
            body=beacon,
            ctype="text/plain",
            tmp=tmp,
        )
        out["sensors"] = _wrk(
            f"{url}/sa?project=default",
            method="POST",
            body=_sensors_batch(EVENTS_PER_BATCH),
            ctype="text/plain",
            tmp=tmp,
        )
        pixel = orjson.dumps(_events(1, offset=20_000)[0])
        import base64

        data = base64.urlsafe_b64encode(pixel).decode().rstrip("=")
        out["pixel"] = _wrk(
            f"{url}/v1/pixel.gif?key=demo-write-key&data={data}",
            method="GET",
            body=b"",
            ctype="text/plain",
            tmp=tmp,
        )
    finally:
        proc.terminate()
        proc.wait(10)
    return out


def run() -> BenchResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make bench-collector` installs it (apt-get install wrk)")
    result = BenchResult(stage="collector", baseline="bare ASGI echo app, same server, same run")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {
            **os.environ,
            "SIYU_DATA_DIR": str(tmp / "data"),
            "PYTHONPATH": str(Path(__file__).parents[1]),
        }
        for kind in ("granian", "uvicorn"):
            figures[kind] = _measure(kind, tmp, env)
    from siyu.settings import CollectorSettings

    chosen = CollectorSettings().server
    for kind in (chosen, *(k for k in figures if k != chosen)):
        f = figures[kind]
        echo = f["echo_beacon"]["rps"]
        tag = "" if kind == chosen else f" ({kind})"
        result.add(
            f"batched events/s per core{tag}",
            f["batch"]["rps"] * EVENTS_PER_BATCH,
            "events/s",
            goal=">= 50000" if kind == chosen else "",
        )
        result.add(
            f"beacon requests/s per core{tag}",
            f["beacon"]["rps"],
            "req/s",
            baseline=echo,
            goal=">= 0.4x echo" if kind == chosen else "",
        )
        result.add(f"pixel requests/s per core{tag}", f["pixel"]["rps"], "req/s", baseline=echo)
        result.add(
            f"Sensors batched events/s per core{tag}",
            f["sensors"]["rps"] * EVENTS_PER_BATCH,
            "events/s",
        )
        result.add(f"batch p50{tag}", f["batch"]["p50_ms"], "ms")
        result.add(f"batch p99{tag}", f["batch"]["p99_ms"], "ms")
        result.add(f"beacon p50{tag}", f["beacon"]["p50_ms"], "ms")
        result.add(f"beacon p99{tag}", f["beacon"]["p99_ms"], "ms")
    result.notes = (
        f"server {chosen} (configured); {CONNECTIONS} connections, {DURATION_S}s per "
        f"figure, {EVENTS_PER_BATCH} events per batch; raw: {json.dumps(figures)}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "collector.json").write_text(
        json.dumps(
            {
                "figures": figures,
                "server": chosen,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
    )
    return result


if __name__ == "__main__":
    r = run()
    for f in r.figures:
        ratio = f"  ({f.ratio:.2f}x of echo {f.baseline:,.0f})" if f.ratio is not None else ""
        sys.stdout.write(f"{f.name:45s} {f.value:>12,.1f} {f.unit}{ratio}  {f.goal}\n")
