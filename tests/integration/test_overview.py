"""The built-in overview page, rendered in headless Chromium: the numbers read from its
DOM equal the ones this test computes itself from the rows it loaded (not from SQL)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn

from sinks.definitions import SqlDefinitions
from sinks.demo_data import DemoData, build_demo, load_demo
from sinks.sql_endpoint import build_sql_app
from sinks.writer import ClickHouseWriter
from siyu.settings import Settings
from streams.funnel_config import load_funnels
from streams.zones import DEFAULT_ZONE, utc_offset_s
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


ZONE = DEFAULT_ZONE
FUNNELS = load_funnels().in_zone(utc_offset_s(ZONE))
DEFS = SqlDefinitions.build({"default": ZONE}, FUNNELS)
NOW = int(time.time() * 1000)
DATA = build_demo(FUNNELS, users=300, days=14, seed=3, now_ms=NOW)


@pytest.fixture(scope="module")
def overview_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    writer = ClickHouseWriter(url=None, chdb_path=tmp_path_factory.mktemp("chdb"))
    writer.migrate(DEFS)
    load_demo(writer, DATA)
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
    assert f'id="tz">{ZONE}<' in dom
    expected = ground_truth(DATA, days=7)
    for kpi, value in expected.items():
        found = re.search(rf'id="{kpi}" data-value="([^"]*)"', dom)
        assert found is not None, kpi
        assert float(found.group(1)) == pytest.approx(value), kpi
    assert _bars(dom, "lifecycle") == lifecycle_truth(DATA)
    for chart in ("funnel", "channels", "fission", "lifecycle"):
        section = dom.split(f'id="{chart}"', 1)[1].split("</section>", 1)[0]
        assert section.count('class="bar"') >= 2, f"{chart} chart is empty"
    assert "<table>" in dom.split('id="retention"', 1)[1]
    shot = tmp_path / "overview.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,1400", overview_url, cwd=tmp_path)
    assert shot.stat().st_size > 10_000, "screenshot missing"
    print(f"overview screenshot: {shot}")


def _bars(dom: str, chart: str) -> dict[str, int]:
    section = dom.split(f'id="{chart}"', 1)[1].split("</section>", 1)[0]
    found = re.findall(r'class="bar" data-name="([^"]*)" data-value="([^"]*)"', section)
    return {name: int(value) for name, value in found}


def _local_start(days: int) -> dt.datetime:
    """Local midnight ``days - 1`` days before today, in the project's zone."""
    zone = ZoneInfo(ZONE)
    today = dt.datetime.fromtimestamp(NOW / 1000, zone).date()
    first = today - dt.timedelta(days=days - 1)
    return dt.datetime(first.year, first.month, first.day, tzinfo=zone)


def ground_truth(data: DemoData, *, days: int) -> dict[str, float]:
    """The overview's numbers for the period, from the loaded rows themselves."""
    since = _local_start(days)
    events = [(row[4], row[6]) for row in data.events]  # (time, user)
    first_seen: dict[str, dt.datetime] = {}
    for at, user in events:
        first_seen[user] = min(at, first_seen.get(user, at))
    visit, success = DEFS.visit_step, DEFS.success_step
    sharers = {row[6] for row in data.events if row[3] in DEFS.share_events}
    sharers |= {edge[1] for edge in data.edges}
    converted = {edge[2] for edge in data.edges if edge[3] == success}
    assert visit < success
    assert converted, "the demo brings successful invitees"
    return {
        "k-events": sum(1 for at, _ in events if at >= since),
        "k-dau": len({user for at, user in events if at >= since}),
        "k-new": sum(1 for at in first_seen.values() if at >= since),
        "k-users": len(first_seen),
        "k-k": round(round(len(converted) / len(sharers), 4), 3),
        "k-dl": sum(1 for row in data.dead_letters if row[2] >= since),
    }


def lifecycle_truth(data: DemoData) -> dict[str, int]:
    stages = Counter(row[2]["lifecycle"] for row in data.tags if row[2].get("lifecycle"))
    return dict(stages)
