"""The embedded stack supervisor behind ``siyu run`` / ``make run``.

Start order: broker → topics → sink (owns chDB, seeds empty changelogs, serves SQL) →
lookup, webhooks → workers → collector. Stop order: collector (stops accepting, flushes
its producer) → lookup, webhooks → drain (workers and sink catch up with every topic) →
workers → sink → broker. The
embedded broker keeps nothing across a restart, so draining before it stops is what
makes a graceful stop lose nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from siyu.broker import MemoryRotation, start_broker
from siyu.broker_quirks import for_kafka
from siyu.exceptions import TrackingError
from siyu.offsets import group_lag
from siyu.progress import Progress
from siyu.settings import Settings
from siyu.topics import TOPICS, changelog_topics, ensure_topics, partition_overrides

__all__ = ["Stack", "SupervisorError"]

logger = logging.getLogger(__name__)

# A child that dies more often than this within the window is not restarted again.
_MAX_RESTARTS = 5
_RESTART_WINDOW_S = 60.0


class SupervisorError(TrackingError):
    pass


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        # A session of its own: Ctrl-C in the terminal reaches only the supervisor,
        # which then stops the children in order.
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %.0fs, killing it", self.name, timeout)
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Stack:
    """The embedded pipeline as child processes of this one."""

    def __init__(
        self, settings: Settings, *, log_dir: Path | None = None, progress: Progress | None = None
    ) -> None:
        self.settings = settings
        self.progress = progress or Progress()
        self.log_dir = log_dir or settings.data_dir / "logs"
        self.broker: subprocess.Popen[bytes] | None = None
        self.children: dict[str, Child] = {}
        self.rotation = MemoryRotation(
            max_bytes=settings.kafka.embedded_restart_rss_mb << 20,
            min_interval_s=settings.kafka.embedded_restart_min_interval_s,
        )

    # -- start ---------------------------------------------------------------------------
    def _child(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> Child:
        env = {**os.environ, **self.settings.child_env(), **(extra_env or {})}
        child = Child(
            name=name,
            argv=[sys.executable, "-m", "siyu", *args],
            env=env,
            log=self.log_dir / f"{name}.log",
        )
        self.children[name] = child
        return child

    def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        begin = self.progress.begin
        if s.kafka.embedded:
            begin("broker")
            self.broker = start_broker(s.kafka.bootstrap, self.log_dir / "broker.log")
        begin("topics", "creating")
        asyncio.run(ensure_topics(s.kafka))
        begin("sink (chDB, SQL endpoint)")
        self._child("sink", "sink").start()
        self.wait_http(f"http://{s.sql.host}:{s.sql.port}/ping", "sink", timeout=120)
        begin(f"{s.worker.count} worker(s), the lookup API and webhooks")
        self._child("lookup", "lookup").start()
        self._child("webhooks", "webhooks").start()
        for i in range(s.worker.count):
            self._child(f"worker-{i}", "worker", "--index", str(i)).start()
        for i in range(s.worker.count):
            self.wait_worker_ready(i)
        self.wait_http(f"http://{s.lookup.host}:{s.lookup.port}/healthz", "lookup", 120)
        begin("collector")
        self._child("collector", "collector").start()
        self.wait_http(f"http://{s.collector.host}:{s.collector.port}/healthz", "collector", 60)
        self.progress.end()

    def add_worker(self) -> int:
        """Start one more worker (scale out: the group rebalances onto it); return its index.

        Its metrics port is ``worker.metrics_port + index``: keep that port free."""
        index = sum(1 for name in self.children if name.startswith("worker-"))
        self._child(f"worker-{index}", "worker", "--index", str(index)).start()
        self.wait_worker_ready(index)
        return index

    def wait_http(self, url: str, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SupervisorError(f"{name} not ready after {timeout}s; see {self.log_dir}/{name}.log")

    def wait_worker_ready(self, index: int) -> None:
        name = f"worker-{index}"
        url = f"http://127.0.0.1:{self.settings.worker.metrics_port + index}/metrics"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                if "siyu_stream_ready 1.0" in httpx.get(url, timeout=1).text:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SupervisorError(f"{name} not ready after 120s; see {self.log_dir}/{name}.log")

    def _check_alive(self, name: str) -> None:
        child = self.children[name]
        if not child.alive():
            code = child.proc.returncode if child.proc else None
            raise SupervisorError(f"{name} exited ({code}); see {child.log}")

    # -- supervise -----------------------------------------------------------------------
    def supervise_once(self) -> list[str]:
        """Restart the broker or children that died; return their names."""
        restarted = []
        if self.broker is not None and self.broker.poll() is not None:
            logger.warning("broker exited with %s, restarting it", self.broker.returncode)
            self.restart_broker()
            restarted.append("broker")
        elif self.broker is not None and self.rotation.due(self.broker.pid):
            self.restart_broker()
            restarted.append("broker")
        now = time.monotonic()
        for child in self.children.values():
            if child.proc is None or child.alive():
                continue
            child.restarts = [t for t in child.restarts if now - t < _RESTART_WINDOW_S]
            if len(child.restarts) >= _MAX_RESTARTS:
                raise SupervisorError(f"{child.name} keeps crashing; see {child.log}")
            logger.warning("%s exited with %s, restarting", child.name, child.proc.returncode)
            child.restarts.append(now)
            child.start()
            restarted.append(child.name)
        return restarted

    def restart_broker(self) -> None:
        """Start the embedded broker again, then the consumers with it.

        Tansu keeps nothing across a restart: the topics are created again, and the sink
        and workers are restarted, because their positions point into the old logs (they
        would skip the start of the new ones) and their state is re-seeded at start. The
        collector keeps running: it spools while the broker is away, then replays the
        spool and re-sends what the broker had acknowledged and lost.
        """
        s = self.settings
        # Consumers first: connected to the new broker with their old positions and
        # replay-protection offsets, they would write stale state into the new changelogs.
        consumers = [n for n in self.children if n.startswith("worker-")] + ["sink"]
        others = [n for n in ("webhooks",) if n in self.children]  # also read the old log
        for name in others + consumers:
            if name in self.children:
                self.children[name].stop(timeout=10)  # nothing to drain: the log is gone
        if self.broker is not None and self.broker.poll() is None:
            self.broker.terminate()
            self.broker.wait(10)
        self.broker = start_broker(s.kafka.bootstrap, self.log_dir / "broker.log")
        asyncio.run(ensure_topics(s.kafka))
        if "sink" in self.children:
            self.children["sink"].start()
            self.wait_http(f"http://{s.sql.host}:{s.sql.port}/ping", "sink", timeout=120)
        for name in consumers[:-1]:
            self.children[name].start()
            self.wait_worker_ready(int(name.removeprefix("worker-")))
        for name in others:
            self.children[name].start()

    # -- stop ----------------------------------------------------------------------------
    def drain(self, timeout: float = 120.0) -> bool:
        """Wait until workers and sink have consumed every topic; True when they did."""
        s = self.settings
        deadline = time.monotonic() + timeout
        stable = 0
        while time.monotonic() < deadline:
            try:
                per_stage = asyncio.run(self.lag_by_stage())
            except (KafkaError, OSError) as exc:
                logger.warning("cannot measure lag, broker unreachable: %s", exc)
                return False
            behind = sum(per_stage.values())
            self.progress.draining(per_stage, force=stable == 0 and behind == 0)
            stable = stable + 1 if behind == 0 else 0
            if stable >= 2:
                return True
            time.sleep(0.5 if behind else max(s.sink.linger_s, 0.5))
        return False

    async def lag(self) -> int:
        """Records not yet processed, summed over the workers' and the sink's topics."""
        return sum((await self.lag_by_stage()).values())

    async def lag_by_stage(self) -> dict[str, int]:
        """Records not yet processed by the workers and by the sink."""
        return {
            stage: sum(max(0, end - committed) for committed, end in lag.values())
            for stage, lag in (await self.partition_lag()).items()
        }

    async def partition_lag(self) -> dict[str, dict[TopicPartition, tuple[int, int]]]:
        """``{stage: {partition: (committed, end)}}`` for the workers and the sink."""
        s = self.settings
        worker_topics = [s.kafka.topic(t.name) for t in TOPICS if t.worker_reads]
        sink_topics = [s.kafka.topic(t.name) for t in TOPICS if t.sink_reads]
        sink_topics += await changelog_topics(s.kafka.bootstrap, s.worker.app_id)
        out: dict[str, dict[TopicPartition, tuple[int, int]]] = {}
        for stage, group, topics in (
            ("workers", s.worker.app_id, worker_topics),
            ("sink", f"{s.worker.app_id}-sink", sink_topics),
        ):
            out[stage] = await group_lag(
                s.kafka.bootstrap,
                group,
                topics,
                s.kafka.partitions,
                overrides=partition_overrides(s.kafka),
                end_offsets=for_kafka(s.kafka).end_offsets,
            )
        return out

    def behind(self) -> str:
        """The partitions whose committed offset is short of their end, for a log line."""
        try:
            lag = asyncio.run(self.partition_lag())
        except (KafkaError, OSError) as exc:
            return f"unknown ({exc})"
        return ", ".join(
            f"{stage} {tp.topic}[{tp.partition}] {committed}/{end}"
            for stage, parts in lag.items()
            for tp, (committed, end) in parts.items()
            if committed < end
        )

    def event_rows(self) -> int | None:
        """Rows in siyu.events as the SQL endpoint sees them, None when it cannot answer."""
        s = self.settings
        try:
            operator = s.sql.operator_key
            answer = httpx.get(
                f"http://{s.sql.host}:{s.sql.port}/",
                params={"query": "SELECT count() FROM siyu.events"},
                auth=("siyu_operator", operator.get_secret_value()) if operator else None,
                timeout=10,
            )
        except httpx.HTTPError:
            return None
        return int(answer.text.strip()) if answer.status_code == 200 else None

    def stop(self) -> int | None:
        """Ordered, draining stop. Returns the events written to ClickHouse while draining."""
        collector = self.children.get("collector")
        if collector:
            collector.stop(timeout=15)
        for name in ("lookup", "webhooks"):
            child = self.children.get(name)
            if child:
                child.stop(timeout=10)
        before = self.event_rows()
        drained = True
        if self.broker is not None or not self.settings.kafka.embedded:
            drained = self.drain()
        for name in [n for n in self.children if n.startswith("worker-")]:
            self.children[name].stop(timeout=30)
        if drained:
            drained = self.drain(timeout=60)
        if not drained:
            logger.error(
                "pipeline did not drain in time; events on the broker may be lost; behind: %s",
                self.behind(),
            )
        after = self.event_rows()
        sink = self.children.get("sink")
        if sink:
            sink.stop(timeout=60)
        if self.broker is not None:
            self.broker.terminate()
            try:
                self.broker.wait(10)
            except subprocess.TimeoutExpired:
                self.broker.kill()
            self.broker = None
        return after - before if before is not None and after is not None else None

    def abort(self) -> None:
        """Stop at once (a failed start, a second Ctrl-C), without draining.

        The collector still gets its graceful stop: what it accepted is flushed to the
        broker or kept in its disk spool, and replayed by the next start.
        """
        collector = self.children.get("collector")
        if collector:
            collector.stop(timeout=15)
        others = [c for c in self.children.values() if c.alive() and c.proc is not None]
        for child in others:
            child.proc.terminate()  # type: ignore[union-attr]
        for child in others:
            child.stop(timeout=5)
        if self.broker is not None:
            self.broker.terminate()
            try:
                self.broker.wait(5)
            except subprocess.TimeoutExpired:
                self.broker.kill()
                self.broker.wait()
            self.broker = None
