"""The built-in overview page renders its numbers and charts in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from sinks.demo_data import build_demo, load_demo
from sinks.sql_endpoint import build_sql_app
from sinks.writer import ClickHouseWriter
from siyu.settings import Settings
from streams.funnel_config import load_funnels
from tests.stack import free_port

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--virtual-time-budget=10000",
]


@pytest.fixture(scope="module")
def overview_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    writer = ClickHouseWriter(url=None, chdb_path=tmp_path_factory.mktemp("chdb"))
    writer.migrate()
    now = int(time.time() * 1000)
    load_demo(writer, build_demo(load_funnels(), users=300, days=14, seed=3, now_ms=now))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_sql_app(writer, Settings()), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(url + "/ping", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url + "/overview?key=demo-read-key"
    server.should_exit = True
    thread.join(10)
    writer.close()


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (apt-get install chromium)")
    return subprocess.run(
        [CHROMIUM, *FLAGS, "--enable-logging=stderr", "--v=0", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_overview_is_served(overview_url: str) -> None:
    answer = httpx.get(overview_url)
    assert answer.status_code == 200
    assert "siyu · overview" in answer.text


def test_overview_renders_numbers_and_charts(overview_url: str, tmp_path: Path) -> None:
    done = _chromium("--dump-dom", overview_url, cwd=tmp_path)
    dom = done.stdout
    assert 'data-ready="1"' in dom, done.stderr[-2000:]
    assert 'data-errors="0"' in dom, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert [line for line in console if "error" in line.lower()] == []
    for kpi in ("k-users", "k-conv", "k-k"):
        value = re.search(rf'id="{kpi}">([^<]+)<', dom)
        assert value is not None
        assert value.group(1) not in ("–", "0", "0.0%")
    for chart in ("funnel", "channels", "fission", "lifecycle"):
        section = dom.split(f'id="{chart}"', 1)[1].split("</section>", 1)[0]
        assert section.count('class="bar"') >= 2, f"{chart} chart is empty"
    assert "<table>" in dom.split('id="retention"', 1)[1]
    shot = tmp_path / "overview.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,1400", overview_url, cwd=tmp_path)
    assert shot.stat().st_size > 10_000, "screenshot missing"
    print(f"overview screenshot: {shot}")
