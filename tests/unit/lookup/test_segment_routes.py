"""Segment and subscription routes of the lookup API, over the in-memory view."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from lookup.app import build_app
from lookup.index import IdentityIndex, TagIndex
from lookup.segment_index import PropertyIndex, SegmentIndex, SubscriptionIndex
from lookup.segment_routes import segment_routes
from schemas.identity_records import IdentityAssignment
from schemas.segment_records import (
    SegmentChanges,
    UserProperties,
    decode_definition,
    decode_subscription,
)
from siyu.settings import Project, Settings
from streams.domain.identity_rules import DEFAULT_RULES
from streams.domain.segments import SegmentChange, compile_segment

ADMIN = {"X-Siyu-Key": "a1"}
READ = {"X-Siyu-Key": "r1"}


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(
            data_dir=tmp_path,
            projects={
                "shop": Project(write_key="w1", read_key="r1", admin_key="a1"),  # type: ignore[arg-type]
                "other": Project(write_key="w2", read_key="r2", admin_key="a2"),  # type: ignore[arg-type]
            },
        )
        self.identities = IdentityIndex()
        self.properties = PropertyIndex()
        self.segments = SegmentIndex((compile_segment("payers", '"paying" in tags'),))
        self.subscriptions = SubscriptionIndex()
        self.published: list[tuple[str, bytes, bytes]] = []

        async def publish(topic: str, key: bytes, value: bytes) -> None:
            self.published.append((topic, key, value))

        routes = segment_routes(
            self.settings, self.identities, self.segments, self.subscriptions, publish
        )
        self.app: Starlette = build_app(
            self.settings,
            DEFAULT_RULES,
            self.identities,
            TagIndex(),
            properties=self.properties,
            segments=self.segments,
            routes=routes,
        )

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(go())

    def user(self, user_id: str, *segments: str) -> None:
        self.identities.apply(IdentityAssignment("shop", "user_id", user_id, user_id, 1, 1))
        self.identities.apply(
            IdentityAssignment("shop", "anonymous_id", f"a-{user_id}", user_id, 1, 1)
        )
        changes = tuple(SegmentChange(user_id, s, "enter", 10, "e") for s in segments)
        self.segments.apply(SegmentChanges("shop", user_id, changes))


def test_define_segment_checks_cel_and_publishes(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    bad = h.call(
        "POST", "/v1/segments", json={"name": "x", "expression": "tags.a &&"}, headers=ADMIN
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_segment"
    assert bad.json()["error"]["position"] == {"line": 1, "column": 10}
    unknown = h.call("POST", "/v1/segments", json={"name": "x", "expression": "orders > 1"},
                     headers=ADMIN)  # fmt: skip
    assert unknown.status_code == 400
    assert "position" not in unknown.json()["error"]
    assert h.call("POST", "/v1/segments", json={"name": "x", "expression": "true"},
                  headers=READ).status_code == 401  # fmt: skip
    assert h.call("POST", "/v1/segments", content=b"{", headers=ADMIN).status_code == 400
    assert h.call("POST", "/v1/segments", json=[1], headers=ADMIN).status_code == 400
    assert h.call("POST", "/v1/segments", json={"name": "x"}, headers=ADMIN).status_code == 400
    assert h.call("POST", "/v1/segments", json={"name": "x", "expression": "true",
                  "description": 5}, headers=ADMIN).status_code == 400  # fmt: skip
    made = h.call(
        "POST", "/v1/segments",
        json={"name": "vip", "expression": "properties.level == 'vip'", "description": "d"},
        headers={"Authorization": "Bearer a1"},
    )  # fmt: skip
    assert made.status_code == 201
    ((topic, key, value),) = h.published
    assert (topic, key) == ("segments.definitions", b"shop/vip")
    assert decode_definition(value).expression == "properties.level == 'vip'"
    listed = h.call("GET", "/v1/segments", headers=READ).json()["segments"]
    assert [(s["name"], s["source"]) for s in listed] == [("payers", "file"), ("vip", "api")]
    other = h.call("GET", "/v1/segments", headers={"X-Siyu-Key": "r2"}).json()["segments"]
    assert [s["name"] for s in other] == ["payers"]
    assert h.call("GET", "/v1/segments").status_code == 401


def test_members_are_paged_in_a_stable_order_and_exported(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    for user in ("u3", "u1", "u2", "u5", "u4"):
        h.user(user, "payers")
    h.segments.apply(
        SegmentChanges("shop", "u4", (SegmentChange("u4", "payers", "exit", 20, "t"),))
    )
    h.segments.apply(SegmentChanges("shop", "u5", (SegmentChange("u5", "payers", "exit", 5, "t"),)))
    seen: list[str] = []
    cursor = ""
    while True:
        page = h.call("GET", f"/v1/segments/payers/users?limit=2&cursor={cursor}", headers=READ)
        doc = page.json()
        seen += doc["users"]
        if doc["next_cursor"] is None:
            break
        cursor = doc["next_cursor"]
    assert seen == ["u1", "u2", "u3", "u5"]  # u4 left; u5's exit is older than its enter
    assert h.call("GET", "/v1/segments/payers/users?limit=0", headers=READ).status_code == 400
    assert h.call("GET", "/v1/segments/payers/users?cursor=%%%", headers=READ).status_code == 400
    assert h.call("GET", "/v1/segments/nope/users", headers=READ).status_code == 404
    assert h.call("GET", "/v1/segments/nope/export", headers=READ).status_code == 404
    jsonl = h.call("GET", "/v1/segments/payers/export", headers=READ)
    rows = [line for line in jsonl.text.splitlines() if line]
    assert rows[0] == '{"user_id":"u1","identities":{"anonymous_id":["a-u1"]}}'
    assert len(rows) == 4
    csv = h.call("GET", "/v1/segments/payers/export?format=csv", headers=READ).text.splitlines()
    assert csv[0] == "user_id,identities"
    assert csv[1] == 'u1,"{""anonymous_id"":[""a-u1""]}"'
    assert h.call("GET", "/v1/segments/payers/export?format=xml", headers=READ).status_code == 400
    count = h.call("GET", "/v1/segments", headers=READ).json()["segments"][0]["members"]
    assert count == 4


def test_user_answer_has_properties_and_segments(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.user("u1", "payers")
    h.properties.apply(UserProperties("shop", "u1", {"level": "vip"}, 99, "e"))
    h.properties.apply(UserProperties("shop", "u1", {"level": "old"}, 50, "e"))  # older: ignored
    doc = h.call("GET", "/v1/users/anonymous_id/a-u1", headers=READ).json()
    assert doc["properties"] == {"level": "vip"}
    assert doc["segments"] == ["payers"]
    assert doc["updated_at"] == 99


def test_subscriptions(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    body = {"url": "http://127.0.0.1:1/hook", "secret": "s", "segments": ["payers"]}
    made = h.call("POST", "/v1/subscriptions", json=body, headers=ADMIN)
    assert made.status_code == 201
    sub_id = made.json()["id"]
    ((topic, key, value),) = h.published
    assert (topic, key.decode()) == ("webhooks.subscriptions", sub_id)
    assert decode_subscription(value).secret == body["secret"]
    listed = h.call("GET", "/v1/subscriptions", headers=ADMIN).json()["subscriptions"]
    assert [s["id"] for s in listed] == [sub_id]
    assert "secret" not in listed[0]
    assert h.call("GET", "/v1/subscriptions", headers={"X-Siyu-Key": "a2"}).json() == {
        "subscriptions": []
    }
    assert (
        h.call("GET", f"/v1/subscriptions/{sub_id}", headers={"X-Siyu-Key": "a2"}).status_code
        == 404
    )
    assert h.call("GET", f"/v1/subscriptions/{sub_id}", headers=ADMIN).json()["url"] == body["url"]
    assert h.call("GET", "/v1/subscriptions", headers=READ).status_code == 401
    for bad in (
        {**body, "url": "ftp://x/y"},
        {**body, "url": f"http://127.0.0.1:{h.settings.lookup.port}/"},
        {**body, "secret": ""},
        {**body, "segments": "payers"},
        {**body, "segments": [], "tags": []},
    ):
        assert h.call("POST", "/v1/subscriptions", json=bad, headers=ADMIN).status_code == 400
    assert h.call("DELETE", f"/v1/subscriptions/{sub_id}", headers=ADMIN).status_code == 204
    assert decode_subscription(h.published[-1][2]).deleted
    assert h.call("GET", f"/v1/subscriptions/{sub_id}", headers=ADMIN).status_code == 404
    # A deleted subscription stays deleted even if an older record is read again.
    h.subscriptions.apply(decode_subscription(h.published[0][2]))
    assert h.subscriptions.get(sub_id) is None
