"""``siyu run`` as a user runs it: progress, banner, and no child left after a SIGKILL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
import psutil
import pytest

from siyu.ports import local_settings
from siyu.preflight import PreflightError, check_before_start
from siyu.settings import Settings
from tests.stack import READ_KEY, WRITE_KEY, read_until

pytestmark = pytest.mark.integration


def _siyu_run(
    data_dir: Path, *options: str, settings: Settings | None = None
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    settings = settings or local_settings(data_dir)
    env = {**os.environ, **{k: str(v) for k, v in settings.child_env().items()}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "siyu", *options, "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, env


def test_sigkill_of_the_supervisor_leaves_no_siyu_process(tmp_path: Path) -> None:
    proc, _ = _siyu_run(tmp_path / "data", "--log-format", "json")
    try:
        lines = read_until(proc, "Ctrl-C drains", timeout=300)
        children = psutil.Process(proc.pid).children(recursive=True)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    text = "\n".join(lines)
    for stage in ("starting broker … ready in", "starting collector … ready in"):
        assert stage in text
    assert any(line.startswith("  overview   http://") for line in lines)
    parts = {" ".join(c.cmdline()[-2:]) for c in children}
    assert {"siyu sink", "siyu lookup", "siyu collector"} <= parts | {
        " ".join(c.cmdline()[-3:-1]) for c in children
    }
    assert any(c.name() == "tansu" for c in children)
    _, alive = psutil.wait_procs(children, timeout=60)
    assert alive == []
    # --log-format json reached every child: their log records are JSON objects.
    text_record = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (DEBUG|INFO|WARNING|ERROR) ")
    for part in ("sink", "worker-0", "lookup", "collector"):
        lines = (tmp_path / "data" / "logs" / f"{part}.log").read_text().splitlines()
        records = [orjson.loads(line) for line in lines if line.startswith("{")]
        assert [line for line in lines if text_record.match(line)] == []
        if part in ("sink", "worker-0"):  # the parts that log while starting
            assert records, (part, lines[:5])
            assert {"time", "level", "logger", "message"} <= set(records[0])


def test_a_leftover_siyu_process_is_named_before_start(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "data")
    env = {**os.environ, **{k: str(v) for k, v in settings.child_env().items()}}
    # A collector left running (its broker is gone): it holds its port and the data dir.
    leftover = subprocess.Popen(
        [sys.executable, "-m", "siyu", "collector"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                check_before_start(settings)
            except PreflightError as exc:
                if str(settings.collector.port) in str(exc):
                    message = str(exc)
                    break
            time.sleep(0.5)
        else:
            raise AssertionError("the leftover collector was not reported")
        done = subprocess.run(
            [sys.executable, "-m", "siyu", "run"], env=env, capture_output=True, text=True
        )
    finally:
        leftover.terminate()
        leftover.wait(30)
    # The collector's server may run in a process of its own: both are named.
    assert f"{settings.collector.port} (collector) is held by siyu collector (pid" in message
    assert f"siyu collector (pid {leftover.pid})" in message
    assert str(leftover.pid) in message.rpartition("kill ")[2]
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"siyu collector (pid {leftover.pid})" in done.stderr
    assert not (tmp_path / "data" / "logs" / "broker.log").exists()


def _post_batches(settings: Settings, run_id: str, batches: int) -> list[str]:
    """Event ids the collector answered 200 for."""
    url = f"http://{settings.collector.host}:{settings.collector.port}/v1/batch"
    accepted: list[str] = []
    with httpx.Client(timeout=30) as http:
        for b in range(batches):
            ids = [f"{run_id}-{b}-{i}" for i in range(50)]
            events = [
                {"event_id": e, "event": "$pageview", "identities": {"anonymous_id": e}}
                for e in ids
            ]
            answer = http.post(url, content=orjson.dumps(events), headers={"X-Siyu-Key": WRITE_KEY})
            if answer.status_code == 200 and answer.json()["accepted"] == len(ids):
                accepted.extend(ids)
    return accepted


def test_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    """Events posted just before two quick Ctrl-C are all stored once after the next start."""
    settings = local_settings(tmp_path / "data")
    proc, _ = _siyu_run(tmp_path / "data", settings=settings)
    run_id = uuid.uuid4().hex[:8]
    try:
        read_until(proc, "Ctrl-C drains", timeout=300)
        children = psutil.Process(proc.pid).children(recursive=True)
        accepted = _post_batches(settings, run_id, 40)
        proc.send_signal(signal.SIGINT)
        read_until(proc, "stopping: collector, draining", timeout=30)
        proc.send_signal(signal.SIGINT)
        rest, errors = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "stopping now, without draining" in rest
    assert "events drained into ClickHouse" not in rest
    assert "Traceback" not in errors
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == []
    assert len(accepted) == 2000
    again, _ = _siyu_run(tmp_path / "data", settings=settings)
    try:
        read_until(again, "Ctrl-C drains", timeout=300)
        sql = f"http://{settings.sql.host}:{settings.sql.port}/"
        query = (
            "SELECT event_id, count() AS n FROM siyu.events "
            f"WHERE event_id LIKE '{run_id}-%' GROUP BY event_id FORMAT JSONEachRow"
        )
        rows: list[dict[str, object]] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(rows) < len(accepted):
            answer = httpx.post(sql, content=query.encode(), auth=("default", READ_KEY))
            rows = [orjson.loads(line) for line in answer.text.splitlines() if line]
            time.sleep(2)
    finally:
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=300)
    assert sorted(str(r["event_id"]) for r in rows) == sorted(accepted)
    assert {r["n"] for r in rows} == {1}


def test_a_failed_start_stops_what_was_started(tmp_path: Path) -> None:
    tags = tmp_path / "tags.yaml"
    tags.write_text("tags: [this is not a tag definition\n")
    settings = local_settings(tmp_path / "data")
    env = {
        **os.environ,
        **{k: str(v) for k, v in settings.child_env().items()},
        "SIYU_TAGS_FILE": str(tags),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "siyu", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[psutil.Process] = set()
    while proc.poll() is None:
        try:
            seen.update(psutil.Process(proc.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    out, errors = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "starting broker … ready in" in out
    assert "failed after" in out
    assert "stopping what was started" in out
    assert re.search(
        r"^siyu: could not start: (sink|worker-0) exited \(\d+\); see .*\.log$", errors, re.M
    ), errors
    assert len(seen) >= 3  # watchdog, broker, sink, … had started
    _, alive = psutil.wait_procs(list(seen), timeout=30)
    assert alive == []
