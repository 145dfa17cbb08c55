"""User properties, live segments and webhook subscriptions end to end.

Events go in through the collector; the test asserts the lookup API's answers, the rows
in ClickHouse and the bodies a real local HTTP receiver got, with their signatures.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from siyu.ports import free_port
from tests.stack import READ_KEY, RunningStack
from webhooks.receiver import LocalReceiver

pytestmark = pytest.mark.integration

ADMIN_KEY = "demo-admin-key"
SECRET = "receiver-signing-key"  # noqa: S105 - a test receiver's key


def _event(anon: str, kind: str = "track", event: str = "", **props: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": kind,
        "event": event,
        "time": int(time.time() * 1000),
        "platform": "miniprogram",
        "identities": {"anonymous_id": anon},
        "properties": props,
    }


def _post(stack: RunningStack, events: list[dict[str, Any]]) -> None:
    answer = stack.post(events)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(events)


def _until(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 45) -> Any:
    deadline = time.monotonic() + timeout
    value: Any = None
    while time.monotonic() < deadline:
        value = fetch()
        if ok(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"never satisfied; last value {value!r}")


def _user(stack: RunningStack, anon: str) -> dict[str, Any]:
    def fetch() -> Any:
        answer = stack.http.get(
            f"{stack.lookup_url}/v1/users/anonymous_id/{anon}", headers={"X-Siyu-Key": READ_KEY}
        )
        return answer.json() if answer.status_code == 200 else None

    return fetch()  # type: ignore[no-any-return]


def _admin(stack: RunningStack, method: str, path: str, **kw: Any) -> Any:
    return stack.http.request(
        method, f"{stack.lookup_url}{path}", headers={"X-Siyu-Key": ADMIN_KEY}, **kw
    )


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    def answer(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
        if path == "/refuse":
            return 400, {}
        if path == "/flaky" and not any(
            d.body["event_id"] == body["event_id"] for d in running.received
        ):
            return 503, {}
        return 200, {}

    running = LocalReceiver(SECRET, free_port(), answer=answer).start()
    yield running
    running.stop()


def test_properties_segments_and_webhooks(stack: RunningStack, receiver: LocalReceiver) -> None:
    run = uuid.uuid4().hex[:8]
    segment = f"gold_{run}"
    # A subscription to a segment that does not exist yet, and one to a shipped segment.
    made = _admin(
        stack, "POST", "/v1/subscriptions",
        json={"url": receiver.url + "/hook", "secret": SECRET, "segments": [segment]},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    sub_id = made.json()["id"]
    flaky = _admin(
        stack, "POST", "/v1/subscriptions",
        json={"url": receiver.url + "/flaky", "secret": SECRET,
              "segments": ["first_order_only"], "tags": ["first_order_only"]},
    )  # fmt: skip
    refused = _admin(
        stack, "POST", "/v1/subscriptions",
        json={"url": receiver.url + "/refuse", "secret": SECRET, "segments": [segment]},
    )  # fmt: skip
    assert flaky.status_code == refused.status_code == 201
    listed = _admin(stack, "GET", "/v1/subscriptions").json()["subscriptions"]
    assert sub_id in {s["id"] for s in listed}
    assert all("secret" not in s for s in listed)

    # Users with properties (and a wrong-typed update, which is a dead letter).
    gold, plain, buyer = f"g-{run}", f"p-{run}", f"b-{run}"
    bad = _event(gold, "profile_increment", tier=1)
    _post(
        stack,
        [
            _event(gold, "profile_set", tier="gold", city="Shanghai"),
            _event(gold, "profile_increment", points=10),
            _event(gold, "profile_append", labels=["a", "b"]),
            bad,
            _event(gold, "profile_increment", points=5),
        ],
    )
    _post(stack, [_event(plain, "profile_set", tier="silver")])
    _post(stack, [_event(buyer, "track", "pay_order", order_id="o1", amount=30)])
    doc = _until(lambda: _user(stack, gold), lambda d: d and d["properties"].get("points") == 15)
    assert doc["properties"] == {
        "tier": "gold", "city": "Shanghai", "points": 15, "labels": ["a", "b"],
    }  # fmt: skip
    gold_id = doc["user_id"]
    reason = stack.wait_for(
        f"SELECT reason FROM siyu.dead_letters WHERE event_id = '{bad['event_id']}'",
        lambda v: bool(v),
    )
    assert "cannot increment a str" in reason
    stack.wait_for(
        "SELECT properties['points'] FROM siyu.user_properties FINAL "
        f"WHERE user_id = '{gold_id}' AND deleted = 0",
        lambda v: v == "15",
    )

    # A shipped segment fills from events: first order only.
    buyer_doc = _until(
        lambda: _user(stack, buyer), lambda d: d and "first_order_only" in d["segments"]
    )
    buyer_id = buyer_doc["user_id"]

    # A segment defined at run time fills for existing users with no new event.
    broken = _admin(stack, "POST", "/v1/segments", json={"name": segment, "expression": "tags. >"})
    assert broken.status_code == 400
    assert broken.json()["error"]["position"] == {"line": 1, "column": 7}
    defined = _admin(
        stack, "POST", "/v1/segments",
        json={"name": segment, "expression": 'has(properties.tier) && properties.tier == "gold"'},
    )  # fmt: skip
    assert defined.status_code == 201, defined.text
    _until(lambda: _user(stack, gold), lambda d: segment in d["segments"])
    assert segment not in _user(stack, plain)["segments"]
    headers = {"X-Siyu-Key": READ_KEY}
    page = stack.http.get(f"{stack.lookup_url}/v1/segments/{segment}/users", headers=headers)
    assert page.json() == {"segment": segment, "users": [gold_id], "next_cursor": None}
    listed_segments = stack.http.get(f"{stack.lookup_url}/v1/segments", headers=headers).json()
    mine = next(s for s in listed_segments["segments"] if s["name"] == segment)
    assert (mine["source"], mine["members"]) == ("api", 1)
    export = stack.http.get(
        f"{stack.lookup_url}/v1/segments/{segment}/export?format=csv", headers=headers
    )
    assert export.text.splitlines()[1].startswith(gold_id + ",")

    # Rows: current members and history.
    stack.wait_for(
        f"SELECT count() FROM siyu.segment_members FINAL WHERE segment = '{segment}' "
        f"AND deleted = 0 AND user_id = '{gold_id}'",
        lambda n: int(n) == 1,
    )
    cause = stack.scalar(
        f"SELECT cause FROM siyu.segment_changes WHERE segment = '{segment}' "
        f"AND user_id = '{gold_id}' AND change = 'enter'"
    )
    assert cause == "segments"

    # Webhooks: the enter, then the exit when the property changes.
    _post(stack, [_event(gold, "profile_set", tier="silver")])
    hooks = _until(
        lambda: receiver.bodies(lambda b: b.get("segment") == segment and b["subscription_id"]
                                == sub_id),
        lambda found: len(found) >= 2,
    )  # fmt: skip
    assert [(d.body["user_id"], d.body["change"]) for d in hooks[:2]] == [
        (gold_id, "enter"),
        (gold_id, "exit"),
    ]
    assert all(d.signature_ok for d in hooks)
    assert all(d.headers["X-Siyu-Signature"].startswith("sha256=") for d in hooks)
    assert len({d.body["event_id"] for d in hooks}) == len(hooks)
    # The flaky receiver: retried after a 503, then delivered.
    flaky_hooks = _until(
        lambda: receiver.bodies(
            lambda b: b.get("user_id") == buyer_id and b["subscription_id"] == flaky.json()["id"]
        ),
        lambda found: {d.status for d in found} >= {200, 503},
    )
    assert {d.body.get("segment") or d.body.get("tag") for d in flaky_hooks} == {"first_order_only"}
    outcomes = stack.wait_for(
        "SELECT groupArray(outcome) FROM (SELECT outcome FROM siyu.webhook_deliveries "
        f"WHERE subscription_id = '{flaky.json()['id']}' AND user_id = '{buyer_id}' "
        "AND kind = 'segment' ORDER BY attempt)",
        lambda v: "delivered" in v,
    )
    assert outcomes == ["retry", "delivered"]
    # The refusing receiver: a 400 is not retried, the delivery is a dead letter at once.
    dead = stack.wait_for(
        "SELECT count() FROM siyu.webhook_dead_letters "
        f"WHERE subscription_id = '{refused.json()['id']}' AND user_id = '{gold_id}'",
        lambda n: int(n) >= 1,
    )
    assert int(dead) >= 1
    attempts = stack.scalar(
        "SELECT max(attempt) FROM siyu.webhook_deliveries "
        f"WHERE subscription_id = '{refused.json()['id']}'"
    )
    assert int(attempts) == 1

    # Deleting a subscription stops it; a target pointing at siyu itself is refused.
    assert _admin(stack, "DELETE", f"/v1/subscriptions/{sub_id}").status_code == 204
    assert _admin(stack, "GET", f"/v1/subscriptions/{sub_id}").status_code == 404
    own = _admin(
        stack, "POST", "/v1/subscriptions",
        json={"url": stack.collector_url + "/v1/batch", "secret": "x", "segments": [segment]},
    )  # fmt: skip
    assert own.status_code == 400
    assert own.json()["error"]["code"] == "invalid_target"
    ftp = _admin(
        stack, "POST", "/v1/subscriptions",
        json={"url": "ftp://example.com/x", "secret": "x", "segments": [segment]},
    )  # fmt: skip
    assert ftp.status_code == 400
    unauthorized = stack.http.get(f"{stack.lookup_url}/v1/subscriptions")
    assert unauthorized.status_code == 401
