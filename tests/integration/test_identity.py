"""The identity graph end to end: collector → stitch → identity.links → ClickHouse and the
lookup API. Each test uses identities of its own on the shared stack."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.stack import READ_KEY, RunningStack

pytestmark = pytest.mark.integration

BASE_TIME = int(time.time() * 1000) - 3_600_000


def _event(identities: dict[str, str], *, at: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": fields.pop("event_id", uuid.uuid4().hex),
        "type": fields.pop("type", "track"),
        "event": fields.pop("event", "$pageview"),
        "time": BASE_TIME + at,
        "platform": fields.pop("platform", "h5"),
        "identities": identities,
        **fields,
    }


def _send(stack: RunningStack, events: list[dict[str, Any]]) -> list[str]:
    answer = stack.post(events)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"] == []
    return [e["event_id"] for e in events]


def _ids(event_ids: list[str]) -> str:
    return ", ".join(f"'{e}'" for e in event_ids)


def current_users(stack: RunningStack, event_ids: list[str]) -> set[str]:
    rows = stack.sql(
        f"SELECT DISTINCT user_id FROM siyu.events_current WHERE event_id IN ({_ids(event_ids)})"
    )
    return {r["user_id"] for r in rows}


def map_rows(stack: RunningStack, *values: str) -> dict[tuple[str, str], str]:
    quoted = ", ".join(f"'{v}'" for v in values)
    rows = stack.sql(
        "SELECT id_type, id_value, user_id FROM siyu.identity_map "
        f"WHERE id_value IN ({quoted}) AND deleted = 0"
    )
    return {(r["id_type"], r["id_value"]): r["user_id"] for r in rows}


def lookup(stack: RunningStack, id_type: str, value: str, timeout: float = 20.0) -> dict[str, Any]:
    """The lookup answer once it knows the identity (it follows Kafka, a moment behind)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = stack.http.get(
            f"{stack.lookup_url}/v1/users/{id_type}/{value}", headers={"X-Siyu-Key": READ_KEY}
        )
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            doc: dict[str, Any] = answer.json()
            return doc
        time.sleep(0.2)


def settled(stack: RunningStack, event_ids: list[str]) -> None:
    stack.wait_drained()
    stack.wait_for(
        f"SELECT count() FROM siyu.events WHERE event_id IN ({_ids(event_ids)})",
        lambda n: int(n) == len(set(event_ids)),
    )


def test_anonymous_browsing_then_login_is_one_user(stack: RunningStack) -> None:
    p = uuid.uuid4().hex[:8]
    anon, login = f"{p}-anon", f"{p}-alice"
    sent = _send(stack, [_event({"anonymous_id": anon}, at=i) for i in range(3)])
    sent += _send(stack, [_event({"anonymous_id": anon, "login_id": login}, at=10, event="login")])
    sent += _send(stack, [_event({"login_id": login}, at=20 + i, platform="app") for i in range(2)])
    settled(stack, sent)

    users = current_users(stack, sent)
    assert len(users) == 1
    [user] = users
    assert map_rows(stack, anon, login) == {("anonymous_id", anon): user, ("login_id", login): user}
    answer = lookup(stack, "login_id", login)
    assert answer["user_id"] == user
    assert answer["identities"] == {"anonymous_id": [anon], "login_id": [login]}
    assert lookup(stack, "anonymous_id", anon.upper())["user_id"] == user  # normalized
    assert lookup(stack, "user_id", user)["user_id"] == user


def test_wechat_openids_and_app_login_join_through_the_unionid(stack: RunningStack) -> None:
    p = uuid.uuid4().hex[:8]
    mini, oa, union, login = f"o-mini-{p}", f"o-oa-{p}", f"un-{p}", f"{p}-bob"
    sent = _send(
        stack,
        [
            _event({"wx_openid:wxmini": mini, "wx_unionid": union}, platform="miniprogram"),
            _event({"wx_openid:wxmini": mini}, at=1, platform="miniprogram"),
        ],
    )
    sent += _send(
        stack,
        [_event({"login_id": login, "wx_unionid": union, "device_id": f"{p}-dev"}, at=5)],
    )
    sent += _send(
        stack,
        [_event({"wx_openid:wxoa": oa, "wx_unionid": union}, at=9, platform="official_account")],
    )
    settled(stack, sent)

    assert len(current_users(stack, sent)) == 1
    answer = lookup(stack, "wx_openid:wxoa", oa)
    assert answer["identities"] == {
        "device_id": [f"{p}-dev"],
        "login_id": [login],
        "wx_openid:wxmini": [mini],
        "wx_openid:wxoa": [oa],
        "wx_unionid": [union],
    }
    assert lookup(stack, "wx_openid:wxmini", mini)["user_id"] == answer["user_id"]


def test_shared_device_two_logins_are_two_users_with_a_conflict(stack: RunningStack) -> None:
    p = uuid.uuid4().hex[:8]
    device, mum, kid = f"{p}-ipad", f"{p}-mum", f"{p}-kid"
    first = _send(stack, [_event({"anonymous_id": device, "login_id": mum}, event="login")])
    second = _send(stack, [_event({"anonymous_id": device, "login_id": kid}, at=5, event="login")])
    after = _send(stack, [_event({"anonymous_id": device}, at=9)])
    settled(stack, first + second + after)

    [mum_user] = current_users(stack, first)
    [kid_user] = current_users(stack, second)
    assert mum_user != kid_user
    assert current_users(stack, after) == {mum_user}  # the device stays with its first user
    conflicts = stack.sql(
        "SELECT id_type, id_value, user_id, other_user_id, reason FROM siyu.identity_conflicts "
        f"WHERE event_id = '{second[0]}'"
    )
    assert conflicts == [
        {
            "id_type": "login_id",
            "id_value": kid,
            "user_id": kid_user,
            "other_user_id": mum_user,
            "reason": "limit:login_id",
        }
    ]
    assert lookup(stack, "login_id", kid)["identities"] == {"login_id": [kid]}
    assert lookup(stack, "login_id", mum)["identities"] == {
        "anonymous_id": [device],
        "login_id": [mum],
    }


def test_junk_ids_never_link_two_people(stack: RunningStack) -> None:
    p = uuid.uuid4().hex[:8]
    zero = "00000000-0000-0000-0000-000000000000"
    sent = _send(
        stack,
        [
            _event({"device_id": zero, "cookie_id": "unknown", "login_id": f"{p}-a"}),
            _event({"device_id": zero, "cookie_id": "unknown", "login_id": f"{p}-b"}, at=1),
        ],
    )
    settled(stack, sent)

    assert len(current_users(stack, sent)) == 2
    assert map_rows(stack, zero, "unknown") == {}
    assert stack.scalar(
        f"SELECT count() FROM siyu.identity_conflicts WHERE event_id IN ({_ids(sent)})"
    ) in (0, "0")
    assert lookup(stack, "login_id", f"{p}-a")["identities"] == {"login_id": [f"{p}-a"]}


def test_late_and_out_of_order_events_end_as_one_user(stack: RunningStack) -> None:
    p = uuid.uuid4().hex[:8]
    h5, app, login = f"{p}-h5", f"{p}-app", f"{p}-carol"
    # The login arrives first; the anonymous events it explains come later.
    sent = _send(stack, [_event({"anonymous_id": h5, "login_id": login}, at=100, event="login")])
    sent += _send(stack, [_event({"anonymous_id": h5}, at=i) for i in range(3)])
    # Another device browsed even earlier and is linked to the login last: a merge.
    sent += _send(stack, [_event({"anonymous_id": app}, at=-50 + i) for i in range(2)])
    sent += _send(stack, [_event({"anonymous_id": app, "login_id": login}, at=200)])
    settled(stack, sent)

    users = current_users(stack, sent)
    assert len(users) == 1
    [user] = users
    ingested = stack.sql(
        "SELECT DISTINCT ingested_user_id AS u FROM siyu.events_current "
        f"WHERE event_id IN ({_ids(sent)})"
    )
    assert len(ingested) == 2  # stitched to two users at first, one user now
    merges = stack.sql(
        f"SELECT loser, survivor FROM siyu.identity_merges WHERE event_id = '{sent[-1]}'"
    )
    assert len(merges) == 1
    assert merges[0]["survivor"] == user  # the older user (the app device, earlier events)
    assert lookup(stack, "user_id", merges[0]["loser"])["user_id"] == user
    assert lookup(stack, "anonymous_id", h5)["identities"]["anonymous_id"] == sorted([h5, app])


def test_the_same_batch_replayed_is_counted_once(stack: RunningStack) -> None:
    p = uuid.uuid4().hex[:8]
    batch = [_event({"anonymous_id": f"{p}-retry"}, at=i) for i in range(4)]
    sent = _send(stack, batch)
    _send(stack, batch)  # the SDK did not get the answer and sends again
    _send(stack, batch[1:3])
    settled(stack, sent)

    assert stack.scalar(f"SELECT count() FROM siyu.events WHERE event_id IN ({_ids(sent)})") in (
        4,
        "4",
    )
    [user] = current_users(stack, sent)
    counted = stack.wait_for(
        f"SELECT events FROM siyu.user_event_counts WHERE user_id = '{user}'",
        lambda n: int(n) >= 4,
        operator=True,
    )
    stack.wait_drained()
    assert int(counted) == 4
    assert (
        int(
            stack.scalar(
                f"SELECT events FROM siyu.user_event_counts WHERE user_id = '{user}'",
                operator=True,
            )
        )
        == 4
    )
