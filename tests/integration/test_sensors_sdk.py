"""The real Sensors SDKs against a running stack: rows, identities and properties in ClickHouse.

sa-sdk-javascript runs in headless Chromium once per send type (image, ajax, beacon,
batch); sa-sdk-miniprogram runs in node with a simulated ``wx`` (batched with its gzip
plugin, and one request per event). tests/sdk_compat/setup.sh installs both (``make test``
runs it first; the fixture runs it again, it is idempotent).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.sensors_text import TEXTS
from tests.stack import RunningStack

pytestmark = pytest.mark.integration

SDK_DIR = Path(__file__).parents[1] / "sdk_compat"


@pytest.fixture(scope="module")
def sdk_tools() -> None:
    subprocess.run(["bash", str(SDK_DIR / "setup.sh")], check=True, timeout=900)


def _node(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["node", script, *args],
        cwd=SDK_DIR,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return orjson.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _rows(stack: RunningStack, where: str, expected: int) -> list[dict[str, Any]]:
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE {where}", lambda n: int(n) >= expected, timeout=90
    )
    rows = stack.sql(
        "SELECT event, type, platform, source, lib_name, identities, properties, context, "
        "enrichment, toUnixTimestamp64Milli(time) AS t, toUnixTimestamp64Milli(received_at) AS r "
        f"FROM siyu.events WHERE {where} ORDER BY time"
    )
    for row in rows:
        row["properties"] = orjson.loads(row["properties"])
        row["context"] = orjson.loads(row["context"])
    return rows


def test_js_sdk_every_send_type(stack: RunningStack, sdk_tools: None) -> None:
    run = "js" + uuid.uuid4().hex[:8]
    out = _node("js_sdk.mjs", stack.collector_url, run, "image", "ajax", "beacon", "batch")
    for send_type, result in out.items():
        requests = result["requests"]
        assert requests, f"{send_type}: the SDK sent nothing"
        assert all(r.get("status") == 200 for r in requests), (send_type, requests)
        cookie = result["anonymous_id"]
        user = f"{run}-{send_type}-user"
        rows = _rows(stack, f"identities['cookie_id'] = '{cookie}'", 4)
        names = {r["event"] for r in rows}
        assert {"$pageview", "view_product", "pay_order"} <= names, (send_type, names)
        assert "profile_set" in {r["type"] for r in rows}
        assert all(r["source"] == "sensors" and r["platform"] == "h5" for r in rows)
        assert all(r["lib_name"] == "js" for r in rows)
        # after login the same events carry both ids, so the two stitch into one person
        assert any(r["identities"].get("login_id") == user for r in rows)
        view = next(r for r in rows if r["event"] == "view_product")
        assert view["properties"]["product_id"] == f"{run}-{send_type}-p1"
        assert view["properties"]["price"] == 12.5
        assert view["properties"]["$title"] == "商品详情"
        assert "/shop/item.html" in view["properties"]["$url"]
        assert view["enrichment"].get("browser"), view["enrichment"]
        assert abs(view["t"] - view["r"]) < 120_000


def test_mini_program_sdk(stack: RunningStack, sdk_tools: None) -> None:
    for mode, encoding in (("batch", "gzip"), ("single", "plain")):
        run = f"mp{mode}" + uuid.uuid4().hex[:6]
        out = _node("mp_sdk.mjs", stack.collector_url, run, mode, encoding)
        assert out["requests"]
        assert all(r.get("status") == 200 for r in out["requests"]), out["requests"]
        device = out["identities"]["$identity_mp_id"]
        rows = _rows(stack, f"identities['device_id'] = '{device}'", 6)
        names = {r["event"] for r in rows}
        assert {"$MPLaunch", "$MPShow", "view_product", "pay_order", "$MPHide"} <= names, names
        assert all(r["platform"] == "miniprogram" and r["lib_name"] == "MiniProgram" for r in rows)
        pay = next(r for r in rows if r["event"] == "pay_order")
        assert pay["identities"]["login_id"] == f"{run}-user"
        assert pay["identities"]["wx_openid:wxsdkcompat"] == f"{run}-openid"
        assert pay["identities"]["wx_unionid"] == f"{run}-unionid"
        assert pay["properties"]["amount"] == 99
        launch = next(r for r in rows if r["event"] == "$MPLaunch")
        assert launch["context"]["scene"] == 1007
        view = next(r for r in rows if r["event"] == "view_product")
        assert view["properties"]["product_id"] == f"{run}-p1"


def _unicode_rows(stack: RunningStack, where: str, expected: int) -> list[dict[str, Any]]:
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE {where}", lambda n: int(n) >= expected, timeout=90
    )
    rows = stack.sql(
        f"SELECT event, type, properties, warnings FROM siyu.events WHERE {where} ORDER BY time"
    )
    for row in rows:
        row["properties"] = orjson.loads(row["properties"])
    return rows


def _assert_round_trip(rows: list[dict[str, Any]], label: str) -> None:
    texts = [r for r in rows if r["event"] == "unicode_text"]
    got = {r["properties"]["case_id"]: r["properties"]["value"] for r in texts}
    assert got == TEXTS, label
    assert all(r["properties"]["list"] == [TEXTS[r["properties"]["case_id"]]] for r in texts)
    assert all(not r["warnings"] for r in texts), label
    profiles = [r["properties"] for r in rows if r["type"] == "profile_set"]
    assert {"nickname": TEXTS["zwj"], "signature": TEXTS["rtl"]} in profiles, (label, profiles)


def test_js_sdk_unicode_round_trip_every_send_type(stack: RunningStack, sdk_tools: None) -> None:
    run = "jsu" + uuid.uuid4().hex[:8]
    types = ("image", "ajax", "beacon", "batch")
    out = _node_env(
        "js_sdk.mjs", {"SDK_TEXTS": orjson.dumps(TEXTS).decode()}, stack.collector_url, run, *types
    )
    for send_type in types:
        result = out[send_type]
        assert all(r.get("status") == 200 for r in result["requests"]), result["requests"]
        where = f"identities['cookie_id'] = '{result['anonymous_id']}'"
        rows = _unicode_rows(stack, f"{where} AND event = 'unicode_text'", len(TEXTS))
        rows += _unicode_rows(stack, f"{where} AND type = 'profile_set'", 2)
        _assert_round_trip(rows, send_type)
        items = stack.wait_for(
            f"SELECT count() FROM siyu.items WHERE item_id LIKE '{run}-{send_type}-%'",
            lambda n: int(n) >= 1,
        )
        assert int(items) == 1  # a2 was set, then deleted
        (item,) = stack.sql(
            "SELECT item_type, item_id, properties FROM siyu.items "
            f"WHERE item_id LIKE '{run}-{send_type}-%'"
        )
        assert (item["item_type"], item["item_id"]) == ("article", f"{run}-{send_type}-a1")
        assert orjson.loads(item["properties"]) == {
            "title": TEXTS["emoji"],
            "content_tags": [TEXTS["cjk"]],
        }
        tags = stack.sql(
            "SELECT item_id, content_tags FROM siyu.item_content_tags "
            f"WHERE item_id LIKE '{run}-{send_type}-%'"
        )
        assert tags == [{"item_id": f"{run}-{send_type}-a1", "content_tags": [TEXTS["cjk"]]}]


def test_mini_program_sdk_unicode_round_trip(stack: RunningStack, sdk_tools: None) -> None:
    env = {"SDK_TEXTS": orjson.dumps(TEXTS).decode()}
    for mode, encoding in (("batch", "gzip"), ("batch", "plain"), ("single", "plain")):
        run = f"mpu{mode}{encoding}" + uuid.uuid4().hex[:6]
        out = _node_env("mp_sdk.mjs", env, stack.collector_url, run, mode, encoding)
        assert all(r.get("status") == 200 for r in out["requests"]), out["requests"]
        where = f"identities['device_id'] = '{out['identities']['$identity_mp_id']}'"
        rows = _unicode_rows(stack, f"{where} AND event = 'unicode_text'", len(TEXTS))
        rows += _unicode_rows(stack, f"{where} AND type = 'profile_set'", 2)
        _assert_round_trip(rows, f"{mode}/{encoding}")
        # The SDK cut this value inside an emoji: the half left over becomes U+FFFD.
        (cut,) = _unicode_rows(stack, f"{where} AND event = 'cut_text'", 1)
        assert cut["properties"]["value"] == "a" * 11999 + "\ufffd"
        assert "lone_surrogate" in cut["warnings"]


def _node_env(script: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["node", script, *args],
        cwd=SDK_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return orjson.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
