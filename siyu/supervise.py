"""``siyu run``: check, start, supervise and stop the embedded stack in the foreground.

Before anything starts: unknown ``SIYU_*`` variables are reported, every port is checked
and siyu processes left on this data directory are named (``siyu.preflight``). A watchdog
(``siyu.watchdog``) makes sure no child outlives this process. Progress goes to stdout,
errors to stderr. Ctrl-C drains (records left per stage are shown); a second Ctrl-C stops
at once: the collector still flushes to the broker or its disk spool, the rest is stopped;
what ClickHouse does not hold yet is in the collector's outbox journal and sent again at the
next start.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from siyu.embedded import Stack
from siyu.exceptions import TrackingError
from siyu.preflight import check_before_start
from siyu.progress import Progress
from siyu.settings import Settings
from siyu.settings_env import unknown_variables
from siyu.watchdog import Watchdog

__all__ = ["StopNow", "banner", "run_stack"]

logger = logging.getLogger(__name__)


class StopNow(BaseException):
    """A second Ctrl-C (or SIGTERM) while stopping: skip the drain."""


def banner(settings: Settings, log_dir: Path) -> list[str]:
    project, keys = next(iter(settings.projects.items()))
    write_key, read_key = keys.write_key.get_secret_value(), keys.read_key.get_secret_value()
    c, s, w, lookup = settings.collector, settings.sql, settings.worker, settings.lookup
    admin = []
    if keys.admin_key is not None:
        admin.append(
            f"  admin      http://{lookup.host}:{lookup.port}/v1/segments, /v1/subscriptions  "
            f"admin key: {keys.admin_key.get_secret_value()}"
        )
        admin.append(
            "  privacy    DELETE …/v1/users/{type}/{value}  "
            f"admin key: {keys.admin_key.get_secret_value()}"
        )
    return [
        "siyu is running (embedded stack)",
        f"  broker     kafka://{settings.kafka.bootstrap}  (Tansu, in memory)",
        f"  collector  http://{c.host}:{c.port}/v1/batch   write key: {write_key}",
        f"  sql        http://{s.host}:{s.port}/?query=…      chDB at {settings.chdb_path}",
        f"  lookup     http://{lookup.host}:{lookup.port}/v1/users/…  read key: {read_key}",
        f"  sql auth   basic auth {project} / {read_key} (or X-Siyu-Key: {read_key})",
        *admin,
        f"  overview   http://{s.host}:{s.port}/overview?key={read_key}",
        f"  metrics    http://{c.host}:{c.port}/metrics, {w.metrics_host}:{w.metrics_port}/metrics "
        f"(worker), {settings.sink.metrics_host}:{settings.sink.metrics_port}/metrics (sink), "
        f"{settings.webhooks.metrics_host}:{settings.webhooks.metrics_port}/metrics (webhooks)",
        f"  wechat     http://{c.host}:{c.port}/v1/wecom/callback?project={project}, "
        f"/v1/wxoa/callback?project={project}  (docs/wechat.md)",
        f"  project    {project}",
        f"  logs       {log_dir}  (follow them with `siyu logs [part]`)",
        "Send demo traffic with `siyu demo` (or `make demo`), then `siyu status` or",
        '`siyu sql "SELECT event, count() FROM siyu.events GROUP BY event"`.',
        "Ctrl-C drains the pipeline and stops (a second Ctrl-C stops at once).",
    ]


def run_stack(settings: Settings, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run until Ctrl-C/SIGTERM; the exit code (0 after a clean stop)."""

    def say(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    def complain(text: str) -> None:
        err.write(f"siyu: {text}\n")
        err.flush()

    for line in unknown_variables(os.environ):
        complain(line)
    try:
        check_before_start(settings)
    except TrackingError as exc:
        complain(str(exc))
        return 1

    signals = 0
    started = False

    def on_signal(*_: object) -> None:
        # While starting, the first signal stops at once; while running, it starts the
        # draining stop and a second one skips the drain.
        nonlocal signals
        signals += 1
        if signals == 2 or (signals == 1 and not started):
            raise StopNow

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    watchdog = Watchdog()
    progress = Progress(out)
    stack = Stack(settings, progress=progress)
    code = 0
    try:
        try:
            stack.start()
        except (TrackingError, OSError) as exc:
            progress.fail()
            complain(f"could not start: {exc}")
            say("stopping what was started …")
            stack.abort()
            return 1
        started = True
        for line in banner(settings, stack.log_dir):
            say(line)
        try:
            while not signals:
                stack.supervise_once()
                time.sleep(1)
        except TrackingError as exc:
            complain(str(exc))
            code = 1
        say("stopping: collector, draining, workers, sink, broker … (Ctrl-C again: stop now)")
        drained = stack.stop()
        count = drained if drained is not None else "an unknown number of"
        say(f"stopped; {count} events drained into ClickHouse")
    except StopNow:
        progress.fail()
        say("stopping now, without draining: the collector flushes what it accepted, then the rest")
        stack.abort()
        say("stopped; records not yet in ClickHouse are processed at the next start")
        code = 130
    finally:
        watchdog.release()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
