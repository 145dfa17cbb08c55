"""Keys per project, read/write separation, project isolation, nothing secret in logs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr

from siyu.settings import Project
from tests.stack import RunningStack, running_stack, stack_settings

pytestmark = pytest.mark.integration

KEYS = {
    "shop": ("shop-write-3f9a", "shop-read-77c1"),
    "club": ("club-write-a1b2", "club-read-c3d4"),
}
MOBILE = "13800138000"


@pytest.fixture(scope="module")
def two_projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    projects = {
        name: Project(write_key=SecretStr(w), read_key=SecretStr(r))
        for name, (w, r) in KEYS.items()
    }
    settings = stack_settings(tmp_path_factory.mktemp("security"), projects=projects)
    with running_stack(settings) as stack:
        yield stack


def _event(anon: str, **identities: str) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4().hex,
        "event": "login",
        "time": 1_764_000_000_000,
        "platform": "h5",
        "identities": {"anonymous_id": anon, **identities},
    }


def _lookup(
    stack: RunningStack, key: str, id_type: str, value: str
) -> tuple[int, dict[str, object]]:
    answer = stack.http.get(
        f"{stack.lookup_url}/v1/users/{id_type}/{value}", headers={"X-Siyu-Key": key}
    )
    return answer.status_code, answer.json()


def test_projects_are_isolated_and_keys_are_separated(two_projects: RunningStack) -> None:
    stack = two_projects
    anon = f"shared-device-{uuid.uuid4().hex[:6]}"
    shop_w, shop_r = KEYS["shop"]
    club_w, club_r = KEYS["club"]
    assert (
        stack.post([_event(anon, login_id="alice", mobile=MOBILE)], key=shop_w).status_code == 200
    )
    assert stack.post([_event(anon, login_id="bob")], key=club_w).status_code == 200

    # A read key cannot write; an unknown key neither.
    assert stack.post([_event(anon)], key=shop_r).status_code == 401
    assert stack.post([_event(anon)], key="nope").status_code == 401
    stack.wait_for(
        "SELECT count() FROM siyu.identity_map WHERE id_type = 'login_id' "
        "AND id_value IN ('alice', 'bob')",
        lambda n: n == 2,
        operator=True,
    )
    stack.wait_drained()

    # A write key cannot read.
    status, _ = _lookup(stack, shop_w, "anonymous_id", anon)
    assert status == 403

    # Each project sees only its own user behind the same device id.
    status, shop_user = _lookup(stack, shop_r, "anonymous_id", anon)
    assert status == 200
    assert shop_user["identities"]["login_id"] == ["alice"]  # type: ignore[index]
    status, club_user = _lookup(stack, club_r, "anonymous_id", anon)
    assert status == 200
    assert club_user["identities"]["login_id"] == ["bob"]  # type: ignore[index]
    assert shop_user["user_id"] != club_user["user_id"]

    # Another project's identities are unknown, even by user id.
    assert _lookup(stack, club_r, "login_id", "alice")[0] == 404
    assert _lookup(stack, club_r, "user_id", str(shop_user["user_id"]))[0] == 404

    # Rows carry their project.
    rows = stack.sql(
        "SELECT project, identities['login_id'] AS login FROM siyu.events "
        f"WHERE identities['anonymous_id'] = '{anon}' ORDER BY project",
        operator=True,
    )
    assert [(r["project"], r["login"]) for r in rows] == [("club", "bob"), ("shop", "alice")]

    # The SQL endpoint: each read key sees its own project's rows only, whatever it asks.
    query = (
        "SELECT project, identities['login_id'] AS login FROM siyu.events "
        f"WHERE identities['anonymous_id'] = '{anon}' FORMAT JSONEachRow"
    )
    for project, login in (("shop", "alice"), ("club", "bob")):
        answer = stack.http.post(stack.sql_url, content=query, auth=(project, KEYS[project][1]))
        assert answer.status_code == 200, answer.text
        assert [orjson.loads(line) for line in answer.text.splitlines()] == [
            {"project": project, "login": login}
        ]
    other = stack.http.post(stack.sql_url, content=query, auth=("club", shop_r))
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "other_project"
    assert stack.http.post(stack.sql_url, content=query, auth=("shop", shop_w)).status_code == 401


def test_no_keys_or_personal_data_in_logs(two_projects: RunningStack) -> None:
    stack = two_projects
    bad = stack.http.post(
        f"{stack.collector_url}/v1/batch",
        content=b"{not json",
        headers={"X-Siyu-Key": KEYS["shop"][0]},
    )
    assert bad.status_code == 400
    stack.wait_drained()
    logs = Path(stack.stack.log_dir)
    text = "\n".join(p.read_text(errors="replace") for p in logs.glob("*.log"))
    for name, (write, read) in KEYS.items():
        assert write not in text, f"{name} write key in logs"
        assert read not in text, f"{name} read key in logs"
    assert MOBILE not in text
