"""Segment definitions, webhook subscriptions and properties survive a full restart of the
embedded stack, whose broker comes back empty (the sink republishes them from ClickHouse)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from siyu.ports import free_port
from tests.stack import READ_KEY, RunningStack, running_stack, stack_settings
from webhooks.receiver import LocalReceiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN = {"X-Siyu-Key": "demo-admin-key"}
SECRET = "restart-receiver-key"  # noqa: S105 - a test receiver's key


def _profile(anon: str, **props: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "profile_set",
        "time": int(time.time() * 1000),
        "platform": "h5",
        "identities": {"anonymous_id": anon},
        "properties": props,
    }


def _user(stack: RunningStack, anon: str, ok: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    doc: Any = None
    while time.monotonic() < deadline:
        answer = stack.http.get(
            f"{stack.lookup_url}/v1/users/anonymous_id/{anon}", headers={"X-Siyu-Key": READ_KEY}
        )
        doc = answer.json() if answer.status_code == 200 else None
        if doc is not None and ok(doc):
            return doc  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"lookup of {anon} never satisfied the check; last {doc!r}")


def test_definitions_subscriptions_and_properties_survive_a_restart(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path / "data")
    receiver = LocalReceiver(SECRET, free_port()).start()
    expression = 'has(properties.plan) && properties.plan == "pro"'
    try:
        with running_stack(settings) as stack:
            made = stack.http.post(
                f"{stack.lookup_url}/v1/segments",
                json={"name": "pro_plan", "expression": expression},
                headers=ADMIN,
            )
            assert made.status_code == 201, made.text
            sub = stack.http.post(
                f"{stack.lookup_url}/v1/subscriptions",
                json={"url": receiver.url, "secret": SECRET, "segments": ["pro_plan"]},
                headers=ADMIN,
            )
            sub_id = sub.json()["id"]
            stack.post([_profile("before", plan="pro", seats=3)])
            # An item of the catalogue (native envelope): content tags still read it after.
            item = {"type": "product", "id": "restart-p1"}
            stack.post(
                [
                    {
                        "event_id": uuid.uuid4().hex,
                        "type": "item_set",
                        "time": int(time.time() * 1000),
                        "platform": "server",
                        "context": {"item": item},
                        "properties": {"content_tags": ["kept_after_restart"]},
                    }
                ]
            )
            stack.wait_for(
                "SELECT count() FROM siyu.items WHERE item_id = 'restart-p1' AND record != ''",
                lambda n: int(n) == 1,
                operator=True,
            )
            _user(stack, "before", lambda d: "pro_plan" in d["segments"])
            stack.wait_for(
                f"SELECT count() FROM siyu.webhook_subscriptions WHERE id = '{sub_id}'",
                lambda n: int(n) == 1,
                operator=True,  # signing secrets: not readable with a project's read key
            )
        with running_stack(settings) as stack:
            listed = stack.http.get(f"{stack.lookup_url}/v1/subscriptions", headers=ADMIN).json()
            assert [s["id"] for s in listed["subscriptions"]] == [sub_id]
            segments = stack.http.get(
                f"{stack.lookup_url}/v1/segments", headers={"X-Siyu-Key": READ_KEY}
            ).json()["segments"]
            assert {"name": "pro_plan", "source": "api", "expression": expression}.items() <= next(
                s for s in segments if s["name"] == "pro_plan"
            ).items()
            before = _user(stack, "before", lambda d: "pro_plan" in d["segments"])
            assert before["properties"] == {"plan": "pro", "seats": 3}
            stack.post([_profile("after", plan="pro")])
            stack.post(
                [
                    {
                        "event_id": uuid.uuid4().hex,
                        "type": "track",
                        "event": "favorite",
                        "time": int(time.time() * 1000),
                        "platform": "h5",
                        "identities": {"anonymous_id": "fan"},
                        "properties": {"item_id": "restart-p1"},
                    }
                ]
            )
            _user(stack, "fan", lambda d: d["tags"].get("interest:kept_after_restart") is True)
            after = _user(stack, "after", lambda d: "pro_plan" in d["segments"])
            deadline = time.monotonic() + 60
            while not receiver.bodies(lambda b: b["user_id"] == after["user_id"]):
                assert time.monotonic() < deadline, "no delivery after the restart"
                time.sleep(0.2)
    finally:
        receiver.stop()
    got = receiver.bodies(lambda b: b["user_id"] == after["user_id"])
    assert [(d.body["segment"], d.body["change"], d.signature_ok) for d in got] == [
        ("pro_plan", "enter", True)
    ]
    assert receiver.bodies(lambda b: b["user_id"] == before["user_id"])[0].body["change"] == "enter"
