"""WeChat's first step end to end: callbacks → events → identities, source tags, live-code and
group views and the dashboard panels that read them.

The stack runs its own tag file naming a live-code registry in a temporary directory, so
the per-code and per-kind numbers below are exactly those of the callbacks and events
these tests send, and a code added with ``siyu qr add``'s function shows up renamed.
Every panel of the ``siyu · live codes and groups`` dashboard is run as Grafana would and
compared with a ground truth computed here from what was sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from siyu.settings import TagSettings
from streams.domain.qr_codes import QrCode
from streams.qr_registry import add_code
from tests.stack import READ_KEY, RunningStack, running_stack, stack_settings
from tests.unit.sinks.test_dashboards import render
from tests.wechat_callbacks import chat_xml, contact_xml, oa_xml, wecom_post, wxoa_post

pytestmark = pytest.mark.integration

BOARD = Path(__file__).parents[2] / "infra" / "grafana" / "dashboards" / "wechat.json"
MP = "wx_openid:wxmp0000000001"
DAY_S = 86_400
ZONE = ZoneInfo("Asia/Shanghai")
REGISTRY = """
codes:
  poster-live:
    name: Spring poster
    channel: moments_poster
    material: poster_a
    campaign: spring
    staff: staff-1
    kind: live
  counter-static:
    channel: store
    material: counter_card
    kind: static
"""
KINDS = {"poster-live": "live", "counter-static": "static"}
TAGS = "sources:\n  scenes_file: siyu:scenes.yaml\n  qrcodes_file: qrcodes.yaml\n"
# What the tests of this module sent through the registered codes: code → users, first
# orders and revenue after entering (the ground truth of the live-vs-static panel).
LEDGER: dict[str, dict[str, Any]] = {}


def _record(code: str, user: str, *, orders: int = 0, revenue: float = 0.0) -> None:
    entry = LEDGER.setdefault(code, {"users": set(), "first_orders": 0, "revenue": 0.0})
    entry["users"].add(user)
    entry["first_orders"] += 1 if orders else 0
    entry["revenue"] += revenue


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wechat")
    (tmp / "qrcodes.yaml").write_text(REGISTRY)
    (tmp / "tags.yaml").write_text(TAGS)
    return tmp


@pytest.fixture(scope="module")
def wx(registry: Path) -> Iterator[RunningStack]:
    settings = stack_settings(registry / "data", tags=TagSettings(file=registry / "tags.yaml"))
    with running_stack(settings) as running:
        yield running


def _callback(stack: RunningStack, path_body: tuple[str, bytes]) -> httpx.Response:
    path, body = path_body
    answer = stack.http.post(stack.collector_url + path, content=body)
    assert answer.status_code == 200, answer.text
    return answer


def _event(identities: dict[str, str], event: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "event": event,
        "time": fields.pop("time", int(time.time() * 1000)),
        "platform": fields.pop("platform", "miniprogram"),
        "identities": identities,
        "properties": fields.pop("properties", {}),
        "context": fields.pop("context", {}),
    }


def _post(stack: RunningStack, events: list[dict[str, Any]]) -> None:
    answer = stack.post(events)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(events), answer.text


def _lookup(stack: RunningStack, path: str, ok: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    doc: Any = None
    while time.monotonic() < deadline:
        answer = stack.http.get(
            f"{stack.lookup_url}/v1/users/{path}", headers={"X-Siyu-Key": READ_KEY}
        )
        doc = answer.json() if answer.status_code == 200 else None
        if doc is not None and ok(doc):
            return dict(doc)
        time.sleep(0.3)
    raise AssertionError(f"lookup {path} never satisfied the check; last answer {doc!r}")


def _panel(title_start: str) -> str:
    board = json.loads(BOARD.read_text())
    (panel,) = [p for p in board["panels"] if p["title"].startswith(title_start)]
    return render(panel["targets"][0]["rawSql"], {"project": "default"})


def _rows(stack: RunningStack, sql: str) -> list[dict[str, Any]]:
    return stack.sql(sql)


def test_qr_add_then_mini_program_visit_then_order(wx: RunningStack) -> None:
    run = uuid.uuid4().hex[:8]
    external, unionid, openid = f"wm-{run}", f"u-{run}", f"o-{run}"
    _callback(wx, wecom_post(contact_xml("add_external_contact", external, state="poster-live")))
    _callback(wx, wecom_post(contact_xml("add_external_contact", external, state="poster-live")))
    wx.wait_drained()
    # The contact details give the unionid (a later callback, or the optional API fetch).
    details = contact_xml("edit_external_contact", external).replace(
        "</xml>", f"<UnionId><![CDATA[{unionid}]]></UnionId></xml>"
    )
    _callback(wx, wecom_post(details))
    visit = _event({MP: openid, "wx_unionid": unionid}, "$MPLaunch", context={"scene": 1001})
    order = _event({MP: openid}, "pay_order", properties={"order_id": run, "amount": 88.5})
    order["time"] = visit["time"] + 1000
    _post(wx, [visit, order])

    _record("poster-live", external, orders=1, revenue=88.5)
    doc = _lookup(
        wx,
        f"wecom_external_id/{external}",
        lambda d: d["tags"].get("orders") == 1 and d["tags"].get("first_qr_id") == "poster-live",
    )
    tags = doc["tags"]
    assert doc["identities"]["wecom_external_id"] == [external]
    assert doc["identities"]["wx_unionid"] == [unionid]
    assert tags["first_qr_channel"] == "moments_poster"
    assert tags["first_qr_material"] == "poster_a"
    assert tags["first_material_id"] == "poster_a"
    assert tags["first_qr_name"] == "Spring poster"
    assert tags["first_qr_kind"] == "live"
    assert tags["first_platform"] == "wecom"
    by_openid = _lookup(wx, f"{MP}/{openid}", lambda d: True)
    assert by_openid["user_id"] == doc["user_id"]

    wx.wait_for(
        "SELECT first_orders FROM siyu.qr_code_funnel WHERE qr_id = 'poster-live'",
        lambda v: int(v) == 1,
    )
    (row,) = [r for r in _rows(wx, _panel("Per code")) if r["qr_id"] == "poster-live"]
    assert row["name"] == "Spring poster"
    assert row["kind"] == "live"
    assert row["channel"] == "moments_poster"
    assert (int(row["users"]), int(row["scans"])) == (1, 1)  # Tencent's retry counted once
    assert (int(row["active_7d"]), int(row["first_orders"]), int(row["orders"])) == (1, 1, 1)
    assert float(row["revenue"]) == 88.5


def test_live_and_static_codes_compared(wx: RunningStack) -> None:
    """Official-account follows through the static code, WeCom adds through the live one."""
    run = uuid.uuid4().hex[:8]
    for i in range(3):
        openid = f"oa-{run}-{i}"
        xml = oa_xml(openid, "subscribe", EventKey="qrscene_counter-static")
        _callback(wx, wxoa_post(xml, safe=i % 2 == 1))
        _record("counter-static", openid, orders=int(i == 0), revenue=20.0 if i == 0 else 0.0)
    order = _event({"wx_openid:wxdemo0000000001": f"oa-{run}-0"}, "pay_order", platform="h5",
                   properties={"amount": 20})  # fmt: skip
    order["time"] += 2000  # after the follow (its CreateTime has whole seconds)
    _post(wx, [order])
    for i in range(2):
        external = f"wm-{run}-{i}"
        _callback(
            wx, wecom_post(contact_xml("add_external_contact", external, state="poster-live"))
        )
        _record("poster-live", external)
    expected: dict[str, dict[str, float]] = {}
    for code, sent in LEDGER.items():
        totals = expected.setdefault(KINDS[code], {"users": 0, "first_orders": 0, "revenue": 0.0})
        totals["users"] += len(sent["users"])
        totals["first_orders"] += sent["first_orders"]
        totals["revenue"] += sent["revenue"]
    wx.wait_for(
        "SELECT sum(first_orders) FROM siyu.qr_code_kinds",
        lambda v: int(v) == sum(t["first_orders"] for t in expected.values()),
    )
    wx.wait_for(
        "SELECT sum(users) FROM siyu.qr_code_kinds",
        lambda v: int(v) == sum(t["users"] for t in expected.values()),
    )
    kinds = {r["kind"]: r for r in _rows(wx, _panel("Live codes"))}
    assert set(kinds) == set(expected)
    for kind, totals in expected.items():
        assert int(kinds[kind]["users"]) == totals["users"]
        assert int(kinds[kind]["first_orders"]) == totals["first_orders"]
        assert float(kinds[kind]["revenue"]) == round(totals["revenue"], 2)
        rate = round(totals["first_orders"] / totals["users"], 4)
        assert float(kinds[kind]["order_rate"]) == rate


def _local_day(ts: int) -> str:
    return datetime.fromtimestamp(ts, ZONE).date().isoformat()


def test_group_panels_match_the_callbacks(wx: RunningStack) -> None:
    run = uuid.uuid4().hex[:8]
    now = int(time.time())
    busy, quiet, gone = f"chat-{run}-busy", f"chat-{run}-quiet", f"chat-{run}-gone"
    m = [f"wm-{run}-g{i}" for i in range(5)]
    # (chat, detail, members, seconds ago): the membership history as Tencent would send it.
    history = [
        (busy, "create", [], 3 * DAY_S),
        (busy, "add_member", [m[0], m[1], "staff-7"], 3 * DAY_S),
        (busy, "add_member", [m[2]], 2 * DAY_S),
        (busy, "del_member", [m[1]], DAY_S),
        (busy, "add_member", [m[3]], 60),
        (quiet, "create", [], 12 * DAY_S),
        (quiet, "add_member", [m[4]], 12 * DAY_S),
        (gone, "create", [], 5 * DAY_S),
        (gone, "add_member", [m[0]], 5 * DAY_S),
        (gone, "dismiss", [], 4 * DAY_S),
    ]
    for chat, detail, members, ago in history:
        change = detail if detail in ("create", "dismiss") else "update"
        xml = chat_xml(chat, change, detail if change == "update" else "", members, at=now - ago)
        _callback(wx, wecom_post(xml))
    # Members' own activity: two of busy's current members visit, one orders twice; the
    # member who left orders too (not counted: no longer a member).
    t_ms = now * 1000

    def ext(i: int) -> dict[str, str]:
        return {"wecom_external_id": m[i]}

    _post(
        wx,
        [
            _event(ext(0), "$MPViewScreen", time=t_ms - 5000),
            _event(ext(2), "$MPViewScreen", time=t_ms - 4000),
            _event(ext(2), "pay_order", time=t_ms - 3000, properties={"amount": 10}),
            _event(ext(2), "pay_order", time=t_ms - 2000, properties={"amount": 15.5}),
            _event(ext(1), "pay_order", time=t_ms - 1000, properties={"amount": 99}),
        ],
    )
    wx.wait_drained()
    wx.wait_for(
        f"SELECT orders FROM siyu.group_stats WHERE chat_id = '{busy}'", lambda v: int(v) == 2
    )
    stats = {r["chat_id"]: r for r in _rows(wx, _panel("Groups:")) if run in r["chat_id"]}
    assert set(stats) == {busy, quiet}  # the dismissed group is gone
    # busy: m0, m2, m3 are members (m1 left; staff not counted); m0 and m2 were active.
    assert (int(stats[busy]["members"]), int(stats[busy]["active_7d"])) == (3, 2)
    assert (int(stats[busy]["orders"]), float(stats[busy]["revenue"])) == (2, 25.5)
    assert (int(stats[quiet]["members"]), int(stats[quiet]["active_7d"])) == (1, 0)
    current = f"SELECT chat_id, member_id FROM siyu.group_members WHERE chat_id LIKE 'chat-{run}-%'"
    members = {(r["chat_id"], r["member_id"]) for r in _rows(wx, current)}
    assert members == {(busy, m[0]), (busy, m[2]), (busy, m[3]), (busy, "staff-7"), (quiet, m[4])}

    dead = {r["chat_id"]: r for r in _rows(wx, _panel("Dead groups")) if run in r["chat_id"]}
    quiet_days = (  # project days (Asia/Shanghai), not UTC days
        date.fromisoformat(_local_day(int(time.time())))
        - date.fromisoformat(_local_day(now - 12 * DAY_S))
    ).days
    assert set(dead) == {quiet}
    assert int(dead[quiet]["idle_days"]) == quiet_days

    # New and lost customers per local day (staff excluded), only these groups.
    expected: dict[str, list[int]] = {}
    for chat, detail, members, ago in history:
        if chat == gone or detail not in ("add_member", "del_member"):
            continue
        day = _local_day(now - ago)
        counts = expected.setdefault(day, [0, 0])
        counts[0 if detail == "add_member" else 1] += len(
            [x for x in members if x.startswith("wm")]
        )
    sql = _panel("New and lost").replace(
        "FROM siyu.group_daily WHERE",
        f"FROM siyu.group_daily WHERE chat_id IN ('{busy}', '{quiet}') AND",
    )
    got = {
        datetime.fromisoformat(str(r["t"])).date().isoformat(): [
            int(r["new_members"]),
            int(r["lost_members"]),
        ]
        for r in _rows(wx, sql)
    }
    # The panel shows the days inside Grafana's time range (its dates, rendered in UTC).
    last = datetime.now(UTC).date().isoformat()
    assert got == {d: v for d, v in expected.items() if v != [0, 0] and d <= last}


def _wait_for_worker_reload(stack: RunningStack, since: float, timeout: float = 30) -> None:
    """Wait until the worker's tag definitions (with the registry) took effect after ``since``."""
    url = f"http://127.0.0.1:{stack.settings.worker.metrics_port}/metrics"
    deadline = time.monotonic() + timeout
    loaded = 0.0
    while time.monotonic() < deadline:
        for line in stack.http.get(url).text.splitlines():
            if line.startswith('siyu_stream_definitions_loaded_timestamp_seconds{kind="tags"}'):
                loaded = float(line.split()[-1])
        if loaded >= since:
            return
        time.sleep(0.25)
    raise AssertionError(f"the worker did not reload its tag definitions (last {loaded})")


def test_a_code_added_to_the_registry_names_it(wx: RunningStack, registry: Path) -> None:
    run = uuid.uuid4().hex[:8]
    code = f"late-{run}"
    _callback(wx, wecom_post(contact_xml("add_external_contact", f"wm-{run}", state=code)))
    wx.wait_for(
        f"SELECT kind FROM siyu.qr_code_funnel WHERE qr_id = '{code}'",
        lambda v: v == "unregistered",
    )
    added = time.time()
    add_code(
        registry / "qrcodes.yaml", QrCode(id=code, name="Late code", channel="kol", kind="static")
    )
    wx.wait_for(
        f"SELECT kind FROM siyu.qr_code_funnel WHERE qr_id = '{code}'", lambda v: v == "static"
    )
    assert wx.scalar(f"SELECT name FROM siyu.qr_code_funnel WHERE qr_id = '{code}'") == "Late code"
    # The tag workers reload the registry too: a new entry through the code is named.
    _wait_for_worker_reload(wx, since=added)
    later = f"wm-{run}-2"
    _callback(wx, wecom_post(contact_xml("add_external_contact", later, state=code)))
    doc = _lookup(wx, f"wecom_external_id/{later}", lambda d: "first_qr_channel" in d["tags"])
    assert doc["tags"]["first_qr_channel"] == "kol"
    assert doc["tags"]["first_qr_name"] == "Late code"


def test_bad_callbacks_are_refused_and_bad_payloads_kept(wx: RunningStack) -> None:
    path, body = wecom_post(contact_xml("add_external_contact", "wm-bad"))
    bad_signature = wx.http.post(
        wx.collector_url + path.replace("msg_signature=", "msg_signature=x"), content=body
    )
    assert bad_signature.status_code == 401
    unknown = wx.http.post(
        wx.collector_url + path.replace("project=default", "project=nope"), content=body
    )
    assert unknown.status_code == 404
    garbage = b"<xml><Encrypt><![CDATA[not-base64-at-all]]></Encrypt></xml>"
    from wechatpy.crypto import _get_signature

    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:8]
    signature = _get_signature("demo-wecom-token", ts, nonce, "not-base64-at-all")
    query = f"project=default&msg_signature={signature}&timestamp={ts}&nonce={nonce}"
    answer = wx.http.post(f"{wx.collector_url}/v1/wecom/callback?{query}", content=garbage)
    assert answer.status_code == 400
    kept = wx.wait_for(
        "SELECT payload FROM siyu.dead_letters WHERE route = '/v1/wecom/callback' "
        "AND payload LIKE '%not-base64-at-all%'",
        lambda v: bool(v),
    )
    assert kept == garbage.decode()
    # Only the payload that did not decrypt was kept: never a badly signed body.
    assert (
        int(wx.scalar("SELECT count() FROM siyu.dead_letters WHERE route = '/v1/wecom/callback'"))
        == 1
    )
    metrics = wx.http.get(wx.collector_url + "/metrics").text
    assert (
        'siyu_collector_callbacks_total{kind="wecom",outcome="bad_signature",project="default"} 1.0'
        in metrics
    )
