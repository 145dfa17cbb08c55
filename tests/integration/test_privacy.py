"""Privacy requests end to end: forget one person everywhere, export, later events."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from siyu.settings_sections import PrivacySettings
from tests.stack import READ_KEY, RunningStack, running_stack, stack_settings

pytestmark = pytest.mark.integration

ADMIN_KEY = "demo-admin-key"
BASE_TIME = int(time.time() * 1000) - 3_600_000


def _event(identities: dict[str, str], name: str = "view_product") -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "track",
        "event": name,
        "time": BASE_TIME,
        "platform": "h5",
        "identities": identities,
    }


def _lookup_status(stack: RunningStack, id_type: str, value: str) -> int:
    return stack.http.get(
        f"{stack.lookup_url}/v1/users/{id_type}/{value}", headers={"X-Siyu-Key": READ_KEY}
    ).status_code


def _wait_status(stack: RunningStack, id_type: str, value: str, status: int) -> None:
    deadline = time.monotonic() + 30
    while _lookup_status(stack, id_type, value) != status:
        assert time.monotonic() < deadline, f"lookup of {id_type}/{value} never {status}"
        time.sleep(0.2)


def _rows_holding(stack: RunningStack, users: set[str], values: set[str]) -> dict[str, int]:
    """Rows of every siyu table (found by its columns) holding one of the ids or values."""
    columns = stack.sql(
        "SELECT table, name FROM system.columns WHERE database = 'siyu' AND table IN "
        "(SELECT name FROM system.tables WHERE database = 'siyu' AND engine NOT LIKE '%View%') "
        "AND name IN ('user_id', 'id_value', 'key', 'loser', 'survivor', 'sharer', 'invitee', "
        "'identities')",
        operator=True,
    )
    wanted = ", ".join(f"'{v}'" for v in users | values)
    found: dict[str, int] = {}
    for c in columns:
        table, name = c["table"], c["name"]
        if name == "identities":
            where = f"hasAny(mapValues(identities), [{wanted}])"
        elif name == "key":
            where = " OR ".join(f"position(key, '{v}') > 0" for v in users | values)
        else:
            where = f"`{name}` IN ({wanted})"
        n = int(stack.scalar(f"SELECT count() FROM siyu.`{table}` WHERE {where}", operator=True))
        if n:
            found[f"{table}.{name}"] = n
    return found


def test_forget_removes_a_person_everywhere_and_drops_their_later_events(
    stack: RunningStack,
) -> None:
    run = uuid.uuid4().hex[:8]
    device, login = f"dev-{run}", f"login-{run}"
    other = f"other-{run}"
    sent = [
        _event({"anonymous_id": device}),
        _event({"anonymous_id": device, "login_id": login}, "login"),
        _event({"login_id": login}, "pay_order"),
        _event({"anonymous_id": other}),
    ]
    assert stack.post(sent).status_code == 200
    ids = ", ".join(f"'{e['event_id']}'" for e in sent)
    stack.wait_for(f"SELECT count() FROM siyu.events WHERE event_id IN ({ids})", lambda n: n == 4)
    _wait_status(stack, "login_id", login, 200)
    _wait_status(stack, "anonymous_id", device, 200)
    stack.wait_drained()
    users = {
        r["user_id"]
        for r in stack.sql(
            f"SELECT DISTINCT user_id FROM siyu.events WHERE event_id IN ({ids}) "
            f"AND event_id != '{sent[3]['event_id']}'"
        )
    }
    assert _rows_holding(stack, users, {device, login})

    # Export: what is held about the person, with the admin key only.
    url = f"{stack.lookup_url}/v1/users/login_id/{login}"
    assert stack.http.get(f"{url}/export").status_code == 401
    assert stack.http.get(f"{url}/export", headers={"X-Siyu-Key": READ_KEY}).status_code == 403
    exported = stack.http.get(f"{url}/export", headers={"X-Siyu-Key": ADMIN_KEY})
    assert exported.status_code == 200, exported.text
    doc = exported.json()
    assert set(doc["user_ids"]) >= users
    assert sorted(r["event_id"] for r in doc["tables"]["events"]) == sorted(
        e["event_id"] for e in sent[:3]
    )

    # Forget: 401 without the admin key, 403 with a read key, 202 with a request id.
    assert stack.http.delete(url).status_code == 401
    assert stack.http.delete(url, headers={"X-Siyu-Key": READ_KEY}).status_code == 403
    answer = stack.http.delete(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert answer.status_code == 202, answer.text
    request_id = answer.json()["request_id"]
    assert _lookup_status(stack, "login_id", login) == 404
    assert _lookup_status(stack, "anonymous_id", device) == 404

    # Done within 60 s: the audit record says so, and holds counts only.
    audit = stack.wait_for(
        f"SELECT status FROM siyu.privacy_requests WHERE request_id = '{request_id}'",
        lambda s: s == "done",
        timeout=60,
    )
    assert audit == "done"
    (record,) = stack.sql(f"SELECT * FROM siyu.privacy_requests WHERE request_id = '{request_id}'")
    assert int(record["removed_rows"]["events"]) == 3
    assert not {device, login, *users} & {str(v) for v in record.values()}
    assert _rows_holding(stack, users, {device, login}) == {}
    _wait_status(stack, "login_id", login, 404)
    for user in users:
        assert _lookup_status(stack, "user_id", user) == 404
    assert stack.http.get(f"{url}/export", headers={"X-Siyu-Key": ADMIN_KEY}).status_code == 404

    # The other person is untouched; later events with the forgotten identities are dropped.
    _wait_status(stack, "anonymous_id", other, 200)
    later = [_event({"login_id": login}, "later"), _event({"anonymous_id": other}, "later")]
    assert stack.post(later).status_code == 200
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE event_id = '{later[1]['event_id']}'",
        lambda n: n == 1,
    )
    stack.wait_drained()
    assert (
        stack.scalar(f"SELECT count() FROM siyu.events WHERE event_id = '{later[0]['event_id']}'")
        == 0
    )
    assert _lookup_status(stack, "login_id", login) == 404


def test_siyu_forget_command(stack: RunningStack) -> None:
    device = f"cli-{uuid.uuid4().hex[:8]}"
    assert stack.post([_event({"anonymous_id": device})]).status_code == 200
    _wait_status(stack, "anonymous_id", device, 200)
    done = subprocess.run(
        [sys.executable, "-m", "siyu", "forget", "anonymous_id", device],
        env=stack.settings.child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accepted" in done.stdout
    assert _lookup_status(stack, "anonymous_id", device) == 404


def test_anonymise_mode_stores_later_events_without_the_forgotten_identities(
    tmp_path: Path,
) -> None:
    settings = stack_settings(tmp_path, privacy=PrivacySettings(later_events="anonymise"))
    with running_stack(settings) as stack:
        run = uuid.uuid4().hex[:8]
        login, device = f"login-{run}", f"dev-{run}"
        first = _event({"login_id": login}, "login")
        assert stack.post([first]).status_code == 200
        _wait_status(stack, "login_id", login, 200)
        stack.wait_drained()
        url = f"{stack.lookup_url}/v1/users/login_id/{login}"
        answer = stack.http.delete(url, headers={"X-Siyu-Key": ADMIN_KEY})
        assert answer.status_code == 202, answer.text
        request_id = answer.json()["request_id"]
        stack.wait_for(
            f"SELECT status FROM siyu.privacy_requests WHERE request_id = '{request_id}'",
            lambda s: s == "done",
            timeout=60,
        )
        # Later: one event with the forgotten login and a new device, one with the login only.
        later = [
            _event({"login_id": login, "anonymous_id": device}, "later"),
            _event({"login_id": login}, "later"),
        ]
        assert stack.post(later).status_code == 200
        ids = ", ".join(f"'{e['event_id']}'" for e in later)
        stack.wait_for(
            f"SELECT count() FROM siyu.events WHERE event_id IN ({ids})", lambda n: n == 2
        )
        rows = {
            r["event_id"]: r["identities"]
            for r in stack.sql(
                f"SELECT event_id, identities FROM siyu.events WHERE event_id IN ({ids})"
            )
        }
        assert rows[later[0]["event_id"]] == {"anonymous_id": device}
        (only,) = rows[later[1]["event_id"]].items()
        assert only[0] == "anonymous_id"
        assert only[1].startswith("forgotten-")
        assert _rows_holding(stack, set(), {login}) == {}
