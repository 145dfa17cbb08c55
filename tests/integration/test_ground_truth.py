"""Every number an operator sees equals the ground truth of one hand-built scenario.

The scenario (tests/ground_truth/scenario.py, docs/analytics.md) is sent once through the
collector's routes into two projects of the session's stack. Every ClickHouse panel of
the Grafana dashboards is run as Grafana would (its macros and project variable
substituted) and compared with the rows the test computes itself from the scenario's
events; the overview page is rendered in headless Chromium and the figures in its DOM are
compared the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ground_truth.context import Ctx
from tests.ground_truth.overview import OVERVIEW, hourly
from tests.ground_truth.scenario import PROJECTS, Event, Scenario, build, keys
from tests.ground_truth.table import PANELS
from tests.stack import RunningStack
from tests.unit.sinks.test_dashboards import render

pytestmark = pytest.mark.integration

BOARDS = sorted((Path(__file__).parents[2] / "infra" / "grafana" / "dashboards").glob("*.json"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _post(stack: RunningStack, s: Scenario, batch: list[Event]) -> None:
    write, _ = keys(s.project)
    answer = stack.post([e.wire(s.anon(e.user)) for e in batch], key=write)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(batch), answer.text


def _named(e: Event) -> str | None:
    """The identity a visit's share names as its sharer (None: no share)."""
    share = e.context.get("share") or {}
    named: str | None = share.get("sharer")
    return named


def _send(stack: RunningStack, scenarios: list[Scenario]) -> None:
    """Each user's first event first, a sharer's before any visit naming them, the pipeline
    drained in between (a share naming an identity the graph does not know yet when the
    visit is linked is not credited); then the rest in time order, then the backdated
    events; the rejected ones."""
    firsts = {s.project: list({e.user: e for e in reversed(s.events)}.values()) for s in scenarios}
    waiting = {project: list(events) for project, events in firsts.items()}
    posted: dict[str, set[str]] = {s.project: set() for s in scenarios}  # their identities
    while any(waiting.values()):
        for s in scenarios:
            ready = [
                e
                for e in waiting[s.project]
                if (named := _named(e)) is None or named in posted[s.project]
            ]
            assert ready or not waiting[s.project], "a share names a user who never shows up"
            if ready:
                _post(stack, s, ready)
            posted[s.project] |= {s.anon(e.user) for e in ready}
            waiting[s.project] = [e for e in waiting[s.project] if e not in ready]
        stack.wait_drained(timeout=120)
    for s in scenarios:
        _post(stack, s, [e for e in s.events if e not in firsts[s.project]])
        _post(stack, s, s.late)
        answer = stack.post([r.body for r in s.rejected], key=keys(s.project)[0])
        assert answer.json()["accepted"] == 0, answer.text


def _settle(stack: RunningStack, c: Ctx) -> None:
    """Wait until the workers' results of the scenario are in ClickHouse."""
    p = c.s.project
    total = len(c.s.all_events)
    stack.wait_drained(timeout=120)
    checks = {
        f"SELECT count() FROM siyu.events WHERE project = '{p}'": total,
        f"SELECT count() FROM siyu.user_tags FINAL WHERE project = '{p}' AND deleted = 0 "
        "AND tags['lifecycle'] != ''": len(c.users),
        f"SELECT uniqExact(invitee) FROM siyu.fission_edges WHERE project = '{p}'": len(
            c.fission.parent
        ),
        f"SELECT count() FROM siyu.dead_letters WHERE project = '{p}'": len(c.s.rejected),
    }
    for query, want in checks.items():
        stack.wait_for(query, lambda v, want=want: int(v) == want, timeout=120, operator=True)
    stack.wait_drained(timeout=60)


@pytest.fixture(scope="module")
def truth(stack: RunningStack) -> dict[str, Ctx]:
    now = int(time.time() * 1000)
    ctxs = {p: Ctx(build(p, zone, now)) for p, zone in PROJECTS.items()}
    _send(stack, [c.s for c in ctxs.values()])
    for p, c in ctxs.items():
        _settle(stack, c)
        rows = stack.sql(
            "SELECT identities['anonymous_id'] AS anon, any(user_id) AS user_id "
            f"FROM siyu.events WHERE project = '{p}' GROUP BY anon",
            operator=True,
        )
        c.ids = {r["anon"].removeprefix(f"gt-{p}-"): r["user_id"] for r in rows}
    return ctxs


def _norm(value: Any, kind: str) -> Any:
    if kind == "i":
        return int(value)
    if kind == "f":
        return round(float(value), 4)
    if kind == "code":
        return str(value).split(":")[0]
    cut = {"d": 10, "h": 13, "sec": 19}.get(kind)
    return str(value)[:cut] if cut else str(value)


def _panel_sql(title: str) -> str:
    for path in BOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            if panel["title"] == title:
                return str(panel["targets"][0]["rawSql"])
    raise AssertionError(f"no panel {title!r}")


@pytest.mark.parametrize("project", sorted(PROJECTS))
@pytest.mark.parametrize("title", sorted(PANELS))
def test_panel_equals_the_ground_truth(
    stack: RunningStack, truth: dict[str, Ctx], project: str, title: str
) -> None:
    c, check = truth[project], PANELS[title]
    c.viewed_at = int(time.time() * 1000)
    now = dt.datetime.fromtimestamp(c.viewed_at / 1000, dt.UTC)
    sql = render(_panel_sql(title), {"project": project}, now=now)
    _, read = keys(project)
    answer = stack.http.post(
        stack.sql_url, content=f"{sql} FORMAT JSONEachRow", auth=("default", read)
    )
    assert answer.status_code == 200, answer.text
    got = [json.loads(line) for line in answer.text.splitlines() if line]
    names = [n for n, _ in check.columns]
    actual = [tuple(_norm(r[n], k) for n, k in check.columns) for r in got]
    expected = [
        tuple(_norm(v, k) for v, (_, k) in zip(row, check.columns, strict=True))
        for row in check.rows(c)
    ]
    if not check.ordered:
        actual, expected = sorted(actual, key=repr), sorted(expected, key=repr)
    assert expected, f"the scenario gives {title!r} no rows: it proves nothing"
    assert actual == expected, f"{title} ({', '.join(names)})"


# --- the overview page, read from its DOM in headless Chromium -----------------------

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--virtual-time-budget=15000"]  # fmt: skip


def _dom(url: str, cwd: Path) -> str:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (apt-get install chromium)")
    done = subprocess.run(
        [CHROMIUM, *FLAGS, "--dump-dom", url], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert 'data-ready="1"' in done.stdout, done.stderr[-2000:]
    return done.stdout


def _section(dom: str, box: str) -> str:
    return dom.split(f'id="{box}"', 1)[1].split("</section>", 1)[0]


def _bars(dom: str, box: str) -> dict[str, int]:
    found = re.findall(r'class="bar" data-name="([^"]*)" data-value="([^"]*)"', _section(dom, box))
    return {name: int(value) for name, value in found}


def _table(dom: str, box: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", _section(dom, box))
    return [re.findall(r"<td>(.*?)</td>", r) for r in rows[1:]]


@pytest.mark.parametrize(
    ("project", "days"), [("gt_shanghai", 7), ("gt_shanghai", 30), ("gt_saopaulo", 1)]
)
def test_overview_page_shows_the_ground_truth(
    stack: RunningStack, truth: dict[str, Ctx], tmp_path: Path, project: str, days: int
) -> None:
    c = truth[project]
    _, read = keys(project)
    loaded = int(time.time() * 1000)
    dom = _dom(f"{stack.sql_url}overview?key={read}&project={project}&period={days}", tmp_path)
    assert 'data-errors="0"' in dom, _section(dom, "errors")
    assert f'id="tz">{c.s.zone}<' in dom
    for figure, expected_of in OVERVIEW.items():
        want = expected_of(c, days)
        if figure.startswith("k-"):
            found = re.search(rf'id="{figure}" data-value="([^"]*)"', dom)
            assert found is not None, figure
            assert float(found.group(1)) == pytest.approx(want), figure
        elif figure == "hourly":
            assert _bars(dom, figure) == hourly(c, loaded - 24 * 3_600_000), figure
        elif figure == "dead":
            codes: dict[str, int] = {}
            for name, n in _bars(dom, figure).items():
                codes[name.split(":")[0]] = codes.get(name.split(":")[0], 0) + n
            assert codes == want, figure
        elif figure == "health":
            behind = [int(r[2]) for r in _table(dom, figure)]
            assert behind, figure
            assert set(behind) == {want}, figure
        elif isinstance(want, set):
            assert {tuple(r) for r in _table(dom, figure)} == want, figure
        else:
            assert _bars(dom, figure) == want, figure
