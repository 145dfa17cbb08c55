"""The mini-program SDK build against the running stack: rows land in ClickHouse.

``sdk/e2e/mp-drive.mjs`` runs the shipped ``dist/miniprogram/index.js`` in a simulated WeChat
runtime whose ``wx.request`` posts to the real collector. User A opens an item page, taps,
shares it and hides the app; user B opens A's card from a chat (scene 1007), once the pipeline
knows A (as it does by the time a real card is opened); user C opens an
unlimited mini-program code whose ``scene`` names a live code, and sends the Unicode cases.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.test_sdk_h5 import sdk_build, user_properties_of  # noqa: F401 - fixture
from tests.integration.unicode_text import PROFILE, unicode_cases
from tests.stack import READ_KEY, WRITE_KEY, RunningStack

pytestmark = pytest.mark.integration

APPID = "wxe2e"


@pytest.fixture(scope="module")
def launched(
    stack: RunningStack,
    sdk_build: Path,  # noqa: F811 - fixture
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:10]
    cases = unicode_cases(run)
    cases_file = tmp_path_factory.mktemp("sdk_mp") / "cases.json"
    cases_file.write_bytes(orjson.dumps({"cases": cases, "profile": PROFILE}))
    args = {
        "serverUrl": stack.collector_url,
        "writeKey": WRITE_KEY,
        "run": run,
        "casesFile": str(cases_file),
        "lookupUrl": stack.lookup_url,
        "readKey": READ_KEY,
    }
    done = subprocess.run(
        ["node", "e2e/mp-drive.mjs", orjson.dumps(args).decode()],
        cwd=sdk_build,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"mini-program driver failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    result["cases"] = cases
    return result


def _rows(stack: RunningStack, anon: str, expected: int) -> list[dict[str, Any]]:
    where = f"identities['anonymous_id'] = '{anon}'"
    stack.wait_for(f"SELECT count() FROM siyu.events WHERE {where}", lambda n: n >= expected, 90)
    rows = stack.sql(
        "SELECT type, event, platform, lib_name, identities, properties, context, entry"
        f" FROM siyu.events WHERE {where}"
    )
    for row in rows:
        row["properties"] = orjson.loads(row["properties"])
        row["context"] = orjson.loads(row["context"])
    return rows


def test_auto_capture_and_share(stack: RunningStack, launched: dict[str, Any]) -> None:
    assert launched["queuedA"] == 0
    anon_a = launched["anonA"]
    assert launched["sharedPath"] == f"/pages/item/item?id=7&siyu_sharer={anon_a}&siyu_depth=1"
    # $MPLaunch $MPShow, identify (openid), $MPViewScreen, $MPClick, $MPShare, $MPHide
    rows = _rows(stack, anon_a, 7)
    by_name = {r["event"]: r for r in rows}
    assert sorted(r["event"] for r in rows) == sorted(
        ["$MPLaunch", "$MPShow", "$identify", "$MPViewScreen", "$MPClick", "$MPShare", "$MPHide"]
    )
    assert {(r["platform"], r["lib_name"]) for r in rows} == {("miniprogram", "siyu-js")}
    assert all(r["context"]["scene"] == 1001 for r in rows)
    assert by_name["$identify"]["identities"] == {
        "anonymous_id": anon_a,
        f"wx_openid:{APPID}": f"oA-{launched['run']}",
    }
    assert by_name["$MPViewScreen"]["properties"]["$url_path"] == "/pages/item/item"
    assert by_name["$MPClick"]["properties"]["$element_id"] == "cart-btn"
    assert by_name["$MPClick"]["properties"]["$element_content"] == "Add to cart"
    share = by_name["$MPShare"]
    assert share["context"]["share"] == {"sharer": anon_a, "depth": 1, "path": "/pages/item/item"}
    assert share["properties"]["$share_method"] == "button"


def test_receiver_carries_scene_and_share(stack: RunningStack, launched: dict[str, Any]) -> None:
    assert launched["queuedB"] == 0
    rows = _rows(stack, launched["anonB"], 5)
    inbound = {"sharer": launched["anonA"], "depth": 1, "path": "/pages/item/item"}
    assert sorted(r["event"] for r in rows) == sorted(
        ["$MPLaunch", "$MPShow", "$identify", "$MPViewScreen", "view_product"]
    )
    for row in rows:
        assert row["context"]["scene"] == 1007
        assert row["context"]["share"] == inbound
    view = next(r for r in rows if r["event"] == "view_product")
    assert view["identities"][f"wx_openid:{APPID}"] == f"oB-{launched['run']}"


def test_fission_edge_between_openid_users(stack: RunningStack, launched: dict[str, Any]) -> None:
    def user_of(openid: str) -> str:
        query = (
            "SELECT any(user_id) FROM siyu.identity_map FINAL WHERE deleted = 0"
            f" AND id_type = 'wx_openid:{APPID}' AND id_value = '{openid}'"
        )
        return str(stack.wait_for(query, bool, 60))

    sharer = user_of(f"oA-{launched['run']}")
    invitee = user_of(f"oB-{launched['run']}")
    assert sharer != invitee
    edges = (
        "SELECT count() FROM siyu.fission_edges_current WHERE step_name = 'visit'"
        f" AND sharer = '{sharer}' AND invitee = '{invitee}' AND depth = 1"
    )
    assert stack.wait_for(edges, lambda n: n >= 1, 60) == 1


def test_unlimited_code_user(stack: RunningStack, launched: dict[str, Any]) -> None:
    """Sensors' autoTrack defaults, the code's scene as entry context, Unicode unchanged."""
    assert launched["queuedC"] == 0
    cases = launched["cases"]
    # $MPLaunch $MPShow $MPViewScreen (no $MPClick, no $MPPageLeave), the cases, $identify,
    # profile_set
    rows = _rows(stack, launched["anonC"], 3 + len(cases) + 2)
    auto = sorted(r["event"] for r in rows if r["event"].startswith("$MP"))
    assert auto == ["$MPLaunch", "$MPShow", "$MPViewScreen"]
    run = launched["run"]
    for row in rows:
        ctx = row["context"]
        assert (ctx["qr"], ctx["material"], ctx["channel"], ctx["scene"]) == (
            f"Q-{run}",
            f"M-{run}",
            "poster",
            1047,
        )
        assert row["entry"] == {
            "qr": f"Q-{run}",
            "material": f"M-{run}",
            "channel": "poster",
            "scene": "1047",
        }
    by_case = {r["properties"]["case"]: r for r in rows if "case" in r["properties"]}
    for case in cases:
        row = by_case[case["properties"]["case"]]
        assert row["event"] == case["event"]
        given = case["properties"]
        assert {k: row["properties"].get(k) for k in given} == given
        assert all(k.startswith("$") for k in set(row["properties"]) - set(given))
    profile = [r for r in rows if r["type"] == "profile_set"]
    assert [(r["event"], r["properties"]) for r in profile] == [("", PROFILE)]
    assert profile[0]["identities"]["login_id"] == f"mp-c-{run}"
    assert user_properties_of(stack, f"mp-c-{run}", bool) == PROFILE


def test_unlimited_code_source_tags(stack: RunningStack, launched: dict[str, Any]) -> None:
    """The code, material and channel the SDK sent name the user's first touch."""
    run = launched["run"]
    deadline = time.monotonic() + 90
    tags: dict[str, Any] = {}
    while time.monotonic() < deadline and tags.get("first_qr_id") != f"Q-{run}":
        answer = stack.http.get(
            f"{stack.lookup_url}/v1/users/login_id/mp-c-{run}", headers={"X-Siyu-Key": READ_KEY}
        )
        tags = answer.json().get("tags", {}) if answer.status_code == 200 else {}
        time.sleep(0.3)
    assert tags.get("first_qr_id") == f"Q-{run}", tags
    assert tags["first_material_id"] == f"M-{run}"
    assert tags["first_qr_name"] == f"Q-{run}", "an unregistered code is named by its id"
