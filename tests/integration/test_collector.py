"""The collector in the running stack: formats stitch together, dead letters, replay, SIGTERM."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.stack import WRITE_KEY, RunningStack, free_port

pytestmark = pytest.mark.integration


def _now() -> int:
    return time.time_ns() // 1_000_000


def test_native_and_sensors_identities_stitch_into_one_user(stack: RunningStack) -> None:
    run = uuid.uuid4().hex[:10]
    anon, cookie, login = f"a-{run}", f"c-{run}", f"u-{run}"
    native = {
        "event_id": f"n-{run}",
        "event": "login",
        "platform": "h5",
        "time": _now(),
        "identities": {"anonymous_id": anon, "login_id": login},
    }
    assert stack.post([native]).json()["accepted"] == 1
    sensors = {
        "identities": {"$identity_cookie_id": cookie, "$identity_login_id": login},
        "distinct_id": login,
        "login_id": login,
        "anonymous_id": cookie,
        "type": "track",
        "event": "pay_order",
        "time": _now(),
        "_track_id": 42,
        "_flush_time": _now(),
        "lib": {"$lib": "js", "$lib_version": "1.27.11"},
        "properties": {"amount": "5"},
    }
    data = base64.b64encode(orjson.dumps(sensors)).decode()
    gif = stack.http.get(
        f"{stack.collector_url}/sa.gif", params={"project": "default", "data": data}
    )
    assert gif.status_code == 200
    assert gif.headers["x-siyu-accepted"] == "1"
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE event_id = 'n-{run}' OR "
        f"identities['cookie_id'] = '{cookie}'",
        lambda n: int(n) == 2,
    )
    row = stack.sql(
        f"SELECT identities, properties, source FROM siyu.events "
        f"WHERE identities['cookie_id'] = '{cookie}'"
    )[0]
    assert row["identities"] == {"cookie_id": cookie, "login_id": login}
    assert orjson.loads(row["properties"])["amount"] == 5  # coerced from "5"
    assert row["source"] == "sensors"
    ids = f"(('anonymous_id', '{anon}'), ('cookie_id', '{cookie}'), ('login_id', '{login}'))"
    stack.wait_for(
        "SELECT count() = 3 AND uniqExact(user_id) = 1 FROM siyu.identity_map FINAL "
        f"WHERE (id_type, id_value) IN {ids}",
        lambda ok: int(ok) == 1,
        timeout=90,
    )


@pytest.fixture
def fixed_collector(stack: RunningStack, tmp_path: Path) -> Iterator[str]:
    """A second collector process on the stack's broker, with the property limit raised."""
    port = free_port()
    env = {
        **os.environ,
        **stack.settings.child_env(),
        "SIYU_COLLECTOR_PORT": str(port),
        "SIYU_COLLECTOR_MAX_PROPERTIES": "1000",
        "SIYU_COLLECTOR_SPOOL_DIR": str(tmp_path / "spool"),
    }
    with (tmp_path / "collector.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "siyu", "collector"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "collector exited"
            assert time.monotonic() < deadline, "collector did not start"
            time.sleep(0.2)
        yield url
        _sigterm_under_traffic(stack, proc, url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _sigterm_under_traffic(stack: RunningStack, proc: subprocess.Popen[bytes], url: str) -> None:
    """In-flight requests finish on SIGTERM and what was answered 200 reaches ClickHouse."""
    run = uuid.uuid4().hex[:10]
    accepted: list[str] = []
    stop = threading.Event()

    def send(worker: int) -> None:
        with httpx.Client(timeout=30) as http:
            n = 0
            while not stop.is_set():
                ids = [f"term-{run}-{worker}-{n}-{i}" for i in range(20)]
                n += 1
                events = [
                    {
                        "event_id": e,
                        "event": "x",
                        "platform": "h5",
                        "time": _now(),
                        "identities": {"anonymous_id": f"t-{run}-{worker}"},
                    }
                    for e in ids
                ]
                try:
                    answer = http.post(
                        url + "/v1/batch",
                        content=orjson.dumps(events),
                        headers={"X-Siyu-Key": WRITE_KEY},
                    )
                except httpx.HTTPError:
                    return
                if answer.status_code == 200:
                    accepted.extend(ids)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    stop.set()
    for t in threads:
        t.join(30)
    assert accepted
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE event_id LIKE 'term-{run}-%'",
        lambda n: int(n) == len(accepted),
        timeout=90,
    )


def test_dead_letters_then_replay_after_a_fix(stack: RunningStack, fixed_collector: str) -> None:
    run = uuid.uuid4().hex[:10]
    wide = {
        "event_id": f"wide-{run}",
        "event": "view_product",
        "platform": "h5",
        "time": _now(),
        "identities": {"anonymous_id": f"a-{run}"},
        "properties": {f"p{i}": i for i in range(600)},
    }
    ok = {**wide, "event_id": f"ok-{run}", "properties": {}}
    answer = stack.post([ok, wide]).json()
    assert answer["accepted"] == 1
    assert answer["rejected"][0]["index"] == 1
    assert answer["rejected"][0]["reason"].startswith("too_many_properties")
    garbage = f'{{"broken-{run}"'.encode()
    bad = stack.http.post(
        stack.collector_url + "/v1/batch", content=garbage, headers={"X-Siyu-Key": WRITE_KEY}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_json"
    stack.wait_for(
        f"SELECT count() FROM siyu.dead_letters WHERE event_id = 'wide-{run}' "
        "AND reason LIKE 'too_many_properties%' AND project = 'default' "
        "AND event_index = 1",
        lambda n: int(n) == 1,
    )
    stack.wait_for(
        f"SELECT count() FROM siyu.dead_letters WHERE payload = '{garbage.decode()}' "
        "AND event_index = -1 AND reason LIKE 'bad_json%'",
        lambda n: int(n) == 1,
    )
    env = {**os.environ, **stack.settings.child_env()}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "siyu",
            "replay-dead-letters",
            "--reason",
            "too_many_properties",
            "--collector",
            fixed_collector,
            "--project",
            "default",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accepted" in done.stdout
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE event_id = 'wide-{run}'", lambda n: int(n) == 1
    )
    props = stack.scalar(f"SELECT properties FROM siyu.events WHERE event_id = 'wide-{run}'")
    assert len(orjson.loads(props)) == 600
