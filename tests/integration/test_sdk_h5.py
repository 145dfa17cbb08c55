"""The H5 SDK in headless Chromium against the running stack: rows land in ClickHouse.

A test page (sdk/e2e/page.html) is served from its own origin; the collector is another
origin (CORS). Visitor A lands from a campaign, clicks, moves through SPA routes, logs in,
shares a link and goes offline for one event; visitor B, in a separate browser context,
opens A's link. Visitor C loads the SDK with the async snippet from a live-code link and
sends the Unicode cases (through the snippet's queue, fetch and sendBeacon), user
properties and a timed event. ``sdk/e2e/drive.mjs`` does the browsing and reports the ids
it saw.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.unicode_text import PROFILE, unicode_cases
from tests.stack import WRITE_KEY, RunningStack, free_port

pytestmark = pytest.mark.integration

SDK = Path(__file__).resolve().parents[2] / "sdk"
SDK_VERSION = orjson.loads((SDK / "package.json").read_bytes())["version"]


@pytest.fixture(scope="module")
def sdk_build() -> Path:
    """Installs npm dependencies and Chromium when missing, and builds the SDK."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the SDK tests (apt-get install -y nodejs npm)")
    subprocess.run(["bash", "scripts/test.sh", "prepare"], cwd=SDK, check=True, timeout=900)
    return SDK


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_url(sdk_build: Path) -> Iterator[str]:
    """The test page on its own origin (a static server over sdk/)."""
    port = free_port()
    handler = functools.partial(_QuietHandler, directory=str(sdk_build))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/e2e/page.html"
    server.shutdown()
    thread.join(10)


@pytest.fixture(scope="module")
def browsed(
    stack: RunningStack,
    page_url: str,
    sdk_build: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:10]
    cases = unicode_cases(run)
    cases_file = tmp_path_factory.mktemp("sdk_h5") / "cases.json"
    cases_file.write_bytes(orjson.dumps({"cases": cases, "profile": PROFILE}))
    args = {
        "pageUrl": page_url,
        "serverUrl": stack.collector_url,
        "writeKey": WRITE_KEY,
        "run": run,
        "casesFile": str(cases_file),
    }
    done = subprocess.run(
        ["node", "e2e/drive.mjs", orjson.dumps(args).decode()],
        cwd=sdk_build,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"browser driver failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    result["cases"] = cases
    return result


def _rows(stack: RunningStack, anon: str, expected: int) -> list[dict[str, Any]]:
    """Events of one anonymous id, once ``expected`` landed (and no more)."""
    where = f"identities['anonymous_id'] = '{anon}'"
    stack.wait_for(f"SELECT count() FROM siyu.events WHERE {where}", lambda n: n >= expected, 90)
    n = stack.scalar(f"SELECT count() FROM siyu.events WHERE {where}")
    assert n == expected, " ".join(
        r["event"] for r in stack.sql(f"SELECT event FROM siyu.events WHERE {where} ORDER BY time")
    )
    rows = stack.sql(
        "SELECT event_id, type, event, platform, lib_name, lib_version, identities, properties,"
        f" context FROM siyu.events WHERE {where} ORDER BY time, event_id"
    )
    for row in rows:
        row["properties"] = orjson.loads(row["properties"])
        row["context"] = orjson.loads(row["context"])
    return rows


def _named(rows: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["event"] == name]


# A: 3 page views, 4 clicks, 2 SPA leaves + 1 on exit, a stay (page hidden on exit),
# identify, share, offline_event.
A_EVENTS = 14


def test_browser_side(browsed: dict[str, Any]) -> None:
    assert browsed["consoleErrors"] == []
    assert browsed["queuedA"] == 0
    assert browsed["queuedOffline"] == 1, "offline event kept in the queue"
    assert browsed["storedOffline"] >= 1, "offline queue persisted in localStorage"
    assert browsed["queuedOnline"] == 0, "offline event delivered once back online"
    assert browsed["queuedB"] == 0
    assert browsed["cookieB"] == browsed["anonB"], "anonymous id also kept in a cookie"


def test_page_views_clicks_and_leaves(stack: RunningStack, browsed: dict[str, Any]) -> None:
    rows = _rows(stack, browsed["anonA"], A_EVENTS)
    assert {(r["platform"], r["lib_name"], r["lib_version"]) for r in rows} == {
        ("h5", "siyu-js", SDK_VERSION)
    }
    views = _named(rows, "$pageview")
    assert [v["properties"]["$url_path"] for v in views] == [
        "/e2e/page.html",
        "/e2e/page.html",
        "/e2e/product/7",
    ]
    assert views[1]["properties"]["$url_hash"] == "#/item/7"
    assert views[2]["properties"]["$referrer"] == views[1]["properties"]["$url"]
    assert views[1]["properties"]["$url"].endswith("#/item/7")
    for row in rows:
        assert row["context"]["utm"] == {
            "source": "wechat",
            "medium": "moments",
            "campaign": browsed["run"],
        }
    clicks = [
        (c["properties"]["$element_content"], c["properties"]["$element_selector"])
        for c in _named(rows, "$WebClick")
    ]
    assert clicks[0] == ("Buy now", "button#buy")
    assert [c[0] for c in clicks] == ["Buy now", "More about item 7", "Open product", "Terms"]
    terms = _named(rows, "$WebClick")[3]["properties"]
    assert terms["$element_target_url"] == "https://example.invalid/terms"
    assert terms["$element_selector"] == (
        "html > body > main:nth-of-type(1) > div:nth-of-type(1) > ul:nth-of-type(1)"
        " > li:nth-of-type(2) > a:nth-of-type(1)"
    )
    leaves = _named(rows, "$WebPageLeave")
    assert len(leaves) == 3, "two SPA route changes and the exit (sent by beacon)"
    assert leaves[-1]["properties"]["$url_path"] == "/e2e/product/7"
    assert leaves[-1]["properties"]["event_duration"] > 0.2
    assert len(_named(rows, "offline_event")) == 1
    stay = _named(rows, "$WebStay")
    assert len(stay) == 1
    assert stay[0]["properties"]["event_duration"] > 0.2


def test_identify_links_anonymous_and_login_ids(
    stack: RunningStack, browsed: dict[str, Any]
) -> None:
    rows = _rows(stack, browsed["anonA"], A_EVENTS)
    identify = [r for r in rows if r["type"] == "identify"]
    assert len(identify) == 1
    assert identify[0]["identities"] == {
        "anonymous_id": browsed["anonA"],
        "login_id": browsed["login"],
    }
    after = rows[rows.index(identify[0]) + 1 :]
    assert after
    assert all(r["identities"].get("login_id") == browsed["login"] for r in after)
    query = (
        "SELECT uniqExact(user_id) FROM siyu.identity_map FINAL WHERE deleted = 0 AND ("
        f"(id_type = 'anonymous_id' AND id_value = '{browsed['anonA']}') OR "
        f"(id_type = 'login_id' AND id_value = '{browsed['login']}'))"
    )
    stack.wait_for(query.replace("uniqExact(user_id)", "count()"), lambda n: n == 2, 60)
    assert stack.scalar(query) == 1, "one user holds both ids"


def test_share_and_fission_chain(stack: RunningStack, browsed: dict[str, Any]) -> None:
    anon_a, anon_b = browsed["anonA"], browsed["anonB"]
    assert f"siyu_sharer={anon_a}&siyu_depth=1" in browsed["shareLink"]
    assert f"siyu_sharer={anon_b}&siyu_depth=2" in browsed["shareLinkB"]

    share_a = _named(_rows(stack, anon_a, A_EVENTS), "share")
    assert len(share_a) == 1
    assert share_a[0]["context"]["share"] == {
        "sharer": anon_a,
        "depth": 1,
        "path": "/e2e/page.html",
    }
    assert share_a[0]["properties"]["channel"] == "wechat_friend"

    rows_b = _rows(stack, anon_b, 5)  # $pageview, view_product, share; stay and leave on close
    assert anon_a != anon_b
    inbound = {"sharer": anon_a, "depth": 1, "path": "/e2e/page.html"}
    view = _named(rows_b, "$pageview")[0]
    assert view["context"]["share"] == inbound
    assert view["properties"]["$url_query"].startswith("item=7&siyu_sharer=")
    assert _named(rows_b, "view_product")[0]["context"]["share"] == inbound
    share_b = _named(rows_b, "share")[0]
    assert share_b["context"]["share"]["sharer"] == anon_b
    assert share_b["context"]["share"]["depth"] == 2


def test_every_event_id_once(stack: RunningStack, browsed: dict[str, Any]) -> None:
    anons = f"('{browsed['anonA']}', '{browsed['anonB']}')"
    rows = stack.sql(
        "SELECT count() AS n, uniqExact(event_id) AS ids FROM siyu.events"
        f" WHERE identities['anonymous_id'] IN {anons}"
    )
    assert rows[0]["n"] == rows[0]["ids"] == A_EVENTS + 5


def test_fission_edge_from_shared_link(stack: RunningStack, browsed: dict[str, Any]) -> None:
    """The funnels credit A with B's visit through A's link (step 2 of ``fission``)."""

    def user_of(anon: str) -> str:
        query = (
            "SELECT any(user_id) FROM siyu.identity_map FINAL WHERE deleted = 0"
            f" AND id_type = 'anonymous_id' AND id_value = '{anon}'"
        )
        return str(stack.wait_for(query, bool, 60))

    sharer, invitee = user_of(browsed["anonA"]), user_of(browsed["anonB"])
    assert sharer != invitee
    edges = (
        "SELECT count() FROM siyu.fission_edges_current WHERE step_name = 'visit'"
        f" AND sharer = '{sharer}' AND invitee = '{invitee}' AND depth = 1"
    )
    assert stack.wait_for(edges, lambda n: n >= 1, 60) == 1


def _where_anon(
    stack: RunningStack, anon: str, condition: str, expected: int
) -> list[dict[str, Any]]:
    """Rows of one anonymous id matching ``condition``, once ``expected`` of them landed."""
    where = f"identities['anonymous_id'] = '{anon}' AND ({condition})"
    stack.wait_for(f"SELECT count() FROM siyu.events WHERE {where}", lambda n: n >= expected, 90)
    rows = stack.sql(
        "SELECT type, event, identities, properties, context, time"
        f" FROM siyu.events WHERE {where} ORDER BY time, event_id"
    )
    for row in rows:
        row["properties"] = orjson.loads(row["properties"])
        row["context"] = orjson.loads(row["context"])
    assert len(rows) == expected, [r["event"] for r in rows]
    return rows


def user_properties_of(
    stack: RunningStack, login: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The current properties of the user holding ``login``, once ``ready(properties)``."""
    user = stack.wait_for(
        "SELECT any(user_id) FROM siyu.identity_map FINAL WHERE deleted = 0"
        f" AND id_type = 'login_id' AND id_value = '{login}'",
        bool,
        60,
    )
    query = (
        "SELECT properties_json FROM siyu.user_properties FINAL"
        f" WHERE user_id = '{user}' AND deleted = 0"
    )
    found = stack.wait_for(query, lambda v: bool(v) and ready(orjson.loads(v)), 90)
    assert found, f"no properties for {login}"
    doc: dict[str, Any] = orjson.loads(found)
    return doc


def test_async_snippet_page(browsed: dict[str, Any]) -> None:
    assert browsed["consoleErrors"] == []
    assert browsed["queuedEarly"] >= 4, "the stub's calls were replayed: $pageview + 3 cases"
    assert browsed["queuedC"] == 0
    assert browsed["queuedBeforeExit"] >= 2, "the last cases wait for the beacon"


def test_unicode_round_trip(stack: RunningStack, browsed: dict[str, Any]) -> None:
    """Every case arrives exactly as given, whichever way it went (stub queue, fetch, beacon)."""
    cases = browsed["cases"]
    rows = _where_anon(
        stack,
        browsed["anonC"],
        "type = 'track' AND has(JSONExtractKeys(properties), 'case')",
        len(cases),
    )
    by_case = {r["properties"]["case"]: r for r in rows}
    assert sorted(by_case) == list(range(len(cases)))
    for case in cases:
        row = by_case[case["properties"]["case"]]
        assert row["event"] == case["event"]
        given = case["properties"]
        stored = {k: row["properties"][k] for k in given if k in row["properties"]}
        assert stored == given, f"case {given['case']} changed on the way"
        extra = set(row["properties"]) - set(given)
        assert all(k.startswith("$") or k == "page_kind" for k in extra), extra


def test_sensors_vocabulary(stack: RunningStack, browsed: dict[str, Any]) -> None:
    anon, login = browsed["anonC"], browsed["loginC"]
    profile = _where_anon(stack, anon, "type LIKE 'profile_%'", 5)
    # Sent within the same millisecond: compare by type, not by stored order.
    assert {r["type"]: (r["event"], r["properties"]) for r in profile} == {
        "profile_set": ("", PROFILE),
        "profile_set_once": ("", {"first_channel": "朋友圈"}),
        "profile_increment": ("", {"points": 5}),
        "profile_append": ("", {"tags": ["新客", "👨‍👩‍👧‍👦"]}),
        "profile_unset": ("", {"old_field": True}),
    }
    assert all(r["identities"] == {"anonymous_id": anon, "login_id": login} for r in profile)
    identify = _where_anon(stack, anon, "type = 'identify'", 1)[0]
    assert identify["identities"] == {"anonymous_id": anon, "login_id": login}
    # Applied to the user's property document (the six operations of the native envelope).
    stored = user_properties_of(stack, login, lambda doc: doc.get("points") == 5)
    assert stored == {
        **PROFILE,
        "first_channel": "朋友圈",
        "points": 5,
        "tags": ["新客", "👨‍👩‍👧‍👦"],
    }
    timed = _where_anon(stack, anon, "event = 'read_article'", 1)[0]
    assert 0.4 <= timed["properties"]["$event_duration"] < 30
    assert timed["properties"]["article"] == "标题 🎉"
    assert timed["properties"]["page_kind"] == "async", "registerPage values on later events"


def test_entry_context_from_landing_url(stack: RunningStack, browsed: dict[str, Any]) -> None:
    """qr_id / material_id / channel of the landing URL are on every event of the visit."""
    rows = _where_anon(stack, browsed["anonC"], "event = '$pageview' OR event = 'read_article'", 2)
    run = browsed["run"]
    for row in rows:
        ctx = row["context"]
        assert (ctx["qr"], ctx["material"], ctx["channel"]) == (f"QR-{run}", f"M-{run}", "朋友圈")


def test_identify_replaces_the_anonymous_id(stack: RunningStack, browsed: dict[str, Any]) -> None:
    """``identify(id)`` (Sensors' meaning): later events, and the cookie, carry the new id."""
    device = browsed["deviceC"]
    assert browsed["cookieC"] == device
    leave = _where_anon(stack, device, "event = '$WebPageLeave'", 1)[0]
    assert leave["identities"]["login_id"] == browsed["loginC"]
    assert leave["context"]["qr"] == f"QR-{browsed['run']}"
