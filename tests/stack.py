"""A running embedded stack for tests: real Tansu, Faust worker(s), chDB, collector."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from siyu.embedded import Stack
from siyu.ports import free_port, local_settings
from siyu.settings import (
    Settings,
)

__all__ = [
    "RunningStack",
    "assert_all_landed",
    "free_port",
    "read_until",
    "restart_child",
    "restart_worker",
    "running_stack",
    "stack_settings",
    "where_are",
]

WRITE_KEY = "demo-write-key"
READ_KEY = "demo-read-key"
OPERATOR = ("siyu_operator", "demo-operator-key")
"""Reads every project and the internal tables (stream state, ``system``)."""


def stack_settings(data_dir: Path, *, workers: int = 1, **overrides: Any) -> Settings:
    return local_settings(data_dir, workers=workers, sink_linger_s=0.2, **overrides)


class RunningStack:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.settings = stack.settings
        c = self.settings.collector
        self.collector_url = f"http://{c.host}:{c.port}"
        self.sql_url = f"http://{self.settings.sql.host}:{self.settings.sql.port}/"
        self.lookup_url = f"http://{self.settings.lookup.host}:{self.settings.lookup.port}"
        self.http = httpx.Client(timeout=30)

    def post(
        self,
        events: list[dict[str, Any]] | dict[str, Any],
        *,
        path: str = "/v1/batch",
        key: str = WRITE_KEY,
        **kwargs: Any,
    ) -> httpx.Response:
        return self.http.post(
            self.collector_url + path,
            content=orjson.dumps(events),
            headers={
                "X-Siyu-Key": key,
                "Content-Type": "application/json",
                **kwargs.pop("headers", {}),
            },
            **kwargs,
        )

    def sql(self, query: str, *, operator: bool = False) -> list[dict[str, Any]]:
        """Rows of a query, read with the demo project's read key (or as the operator)."""
        auth = OPERATOR if operator else ("default", READ_KEY)
        answer = self.http.post(
            self.sql_url, content=f"{query} FORMAT JSONEachRow".encode(), auth=auth
        )
        if answer.status_code != 200:
            raise AssertionError(f"query failed: {answer.text}")
        return [orjson.loads(line) for line in answer.text.splitlines() if line]

    def scalar(self, query: str, *, operator: bool = False) -> Any:
        rows = self.sql(query, operator=operator)
        return next(iter(rows[0].values())) if rows else None

    def wait_for(
        self,
        query: str,
        predicate: Callable[[Any], bool],
        timeout: float = 60.0,
        *,
        operator: bool = False,
    ) -> Any:
        """Poll a scalar query until ``predicate(value)``; return the last value."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.scalar(query, operator=operator)
            except (AssertionError, httpx.HTTPError):
                value = None
            if value is not None and predicate(value):
                return value
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout}s: {query!r} last gave {value!r}")

    def lookup_until(
        self, path: str, ok: Callable[[Any], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        """GET ``/v1/users/{path}`` from the lookup API until ``ok(answer)``; return it."""
        deadline = time.monotonic() + timeout
        doc: Any = None
        while time.monotonic() < deadline:
            answer = self.http.get(
                f"{self.lookup_url}/v1/users/{path}", headers={"X-Siyu-Key": READ_KEY}
            )
            if answer.status_code == 200:
                doc = answer.json()
                if ok(doc):
                    return dict(doc)
            time.sleep(0.2)
        raise AssertionError(f"lookup {path} never satisfied the check; last answer {doc!r}")

    def wait_for_worker_metric(
        self, sample: str, predicate: Callable[[float], bool], timeout: float = 30.0
    ) -> float:
        """Poll the first worker's ``/metrics`` until the sample (name with labels, as
        printed) satisfies ``predicate``; return its value."""
        url = f"http://127.0.0.1:{self.settings.worker.metrics_port}/metrics"
        deadline = time.monotonic() + timeout
        value = float("nan")
        while time.monotonic() < deadline:
            for line in self.http.get(url).text.splitlines():
                if line.startswith(sample + " "):
                    value = float(line.split()[-1])
            if predicate(value):
                return value
            time.sleep(0.25)
        raise AssertionError(f"worker metric {sample} never satisfied the check (last {value})")

    def wait_drained(self, timeout: float = 60.0) -> None:
        if not self.stack.drain(timeout=timeout):
            raise AssertionError(f"pipeline did not drain; behind: {self.stack.behind()}")


@contextmanager
def running_stack(settings: Settings) -> Iterator[RunningStack]:
    stack = Stack(settings)
    try:
        stack.start()
        yield RunningStack(stack)
    finally:
        stack.stop()


def restart_worker(running: RunningStack, index: int = 0, *, hard: bool = True) -> None:
    """Kill (SIGKILL) or stop (SIGTERM) one worker; the supervisor starts it again."""
    child = running.stack.children[f"worker-{index}"]
    assert child.proc is not None
    if hard:
        child.proc.kill()
    else:
        child.proc.terminate()
    child.proc.wait(60)
    assert f"worker-{index}" in running.stack.supervise_once()
    running.stack.wait_worker_ready(index)


def where_are(running: RunningStack, event_ids: set[str]) -> str:
    """For events missing from ClickHouse: which topics hold them (diagnosis text)."""
    import asyncio

    from aiokafka import AIOKafkaConsumer

    from schemas.records import decode_batch

    async def scan(topic: str) -> dict[str, list[tuple[int, int]]]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=running.settings.kafka.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        found: dict[str, list[tuple[int, int]]] = {}
        idle = 0
        try:
            while idle < 2:
                batch = await consumer.getmany(timeout_ms=1000)
                idle = idle + 1 if not batch else 0
                for tp, records in batch.items():
                    for r in records:
                        for e in decode_batch(r.value or b"").events:
                            if e.event_id in event_ids:
                                found.setdefault(e.event_id, []).append((tp.partition, r.offset))
        finally:
            await consumer.stop()
        return found

    k = running.settings.kafka
    raw = asyncio.run(scan(k.topic("events.raw")))
    links = asyncio.run(scan(k.topic("identity.links")))
    stitched = asyncio.run(scan(k.topic("events.stitched")))
    return "; ".join(
        f"{e}: raw={raw.get(e)} links={links.get(e)} stitched={stitched.get(e)}"
        for e in sorted(event_ids)[:20]
    )


def assert_all_landed(running: RunningStack, run: str, expected: int, timeout: float = 90) -> None:
    """Wait for ``expected`` distinct rows of events ``<run>-*``; explain what is missing."""
    query = f"SELECT count() FROM siyu.events WHERE event_id LIKE '{run}-%'"
    try:
        running.wait_for(query, lambda n: n == expected, timeout=timeout)
    except AssertionError:
        have = {
            r["event_id"]
            for r in running.sql(f"SELECT event_id FROM siyu.events WHERE event_id LIKE '{run}-%'")
        }
        missing = {f"{run}-{i}" for i in range(expected)} - have
        raise AssertionError(
            f"{len(missing)} of {expected} events missing: {where_are(running, missing)}"
        ) from None


def restart_child(running: RunningStack, name: str) -> None:
    """SIGKILL one supervised process and let the supervisor start it again."""
    child = running.stack.children[name]
    assert child.proc is not None
    child.proc.kill()
    child.proc.wait(60)
    assert name in running.stack.supervise_once()
    if name == "sink":
        s = running.settings.sql
        running.stack.wait_http(f"http://{s.host}:{s.port}/ping", "sink", 120)
    elif name.startswith("worker-"):
        running.stack.wait_worker_ready(int(name.removeprefix("worker-")))


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    """Lines ``proc`` (``siyu run``, ``make run``) prints up to the one holding ``marker``."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    assert proc.stderr is not None
    raise AssertionError(f"no {marker!r} in {lines}; stderr: {proc.stderr.read()[-3000:]}")
