"""The lookup API over its in-memory view."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from lookup.app import build_app
from lookup.index import IdentityIndex, TagIndex
from schemas.identity_records import IdentityAssignment
from schemas.tag_records import TagChanges
from siyu.settings import Project, Settings
from streams.domain.identity_rules import DEFAULT_RULES, rules_from_mapping
from streams.domain.tag_definitions import TagChange


class AsgiClient:
    """Requests to the app in process (ASGI), no server."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get(url, **kwargs)

        return asyncio.run(call())


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        projects={
            "shop": Project(write_key="w1", read_key="r1"),  # type: ignore[arg-type]
            "other": Project(write_key="w2", read_key="r2"),  # type: ignore[arg-type]
        },
    )


def _assign(
    project: str, id_type: str, value: str, user: str | None, version: int
) -> IdentityAssignment:
    return IdentityAssignment(project, id_type, value, user, version, time=version * 10)


def _client(tmp_path: Path, rules=DEFAULT_RULES) -> tuple[AsgiClient, IdentityIndex, TagIndex]:  # type: ignore[no-untyped-def]
    identities, tags = IdentityIndex(), TagIndex()
    for a in (
        _assign("shop", "user_id", "u1", "u1", 1),
        _assign("shop", "anonymous_id", "a1", "u1", 1),
        _assign("shop", "login_id", "Alice", "u1", 2),
        _assign("shop", "user_id", "u2", "u2", 3),
        _assign("shop", "anonymous_id", "a2", "u2", 3),
        _assign("other", "user_id", "u9", "u9", 1),
        _assign("other", "login_id", "Alice", "u9", 1),
    ):
        identities.apply(a)
    app = build_app(_settings(tmp_path), rules, identities, tags)
    return AsgiClient(app), identities, tags


def test_lookup_by_identity_answers_the_user(tmp_path: Path) -> None:
    client, _, tags = _client(tmp_path)
    tags.apply(TagChanges("shop", "u1", (TagChange("u1", "vip", None, True, 50, "e"),)))
    answer = client.get("/v1/users/anonymous_id/%20A1%20", headers={"X-Siyu-Key": "r1"})
    assert answer.status_code == 200
    assert answer.json() == {
        "user_id": "u1",
        "identities": {"anonymous_id": ["a1"], "login_id": ["Alice"]},
        "tags": {"vip": True},
        "properties": {},
        "segments": [],
        "updated_at": 50,
    }


def test_a_merge_moves_identities_and_old_user_ids_follow(tmp_path: Path) -> None:
    client, identities, _ = _client(tmp_path)
    identities.apply(_assign("shop", "anonymous_id", "a2", "u1", 4))
    identities.apply(_assign("shop", "user_id", "u2", "u1", 4))
    identities.apply(_assign("shop", "anonymous_id", "a2", "u2", 3))  # older: ignored
    answer = client.get("/v1/users/user_id/u2?key=r1").json()
    assert answer["user_id"] == "u1"
    assert answer["identities"] == {"anonymous_id": ["a1", "a2"], "login_id": ["Alice"]}


def test_unknown_and_unbound_identities_are_404(tmp_path: Path) -> None:
    client, identities, _ = _client(tmp_path)
    assert client.get("/v1/users/login_id/nobody?key=r1").status_code == 404
    assert client.get("/v1/users/weird_type/x?key=r1").status_code == 404
    identities.apply(_assign("shop", "anonymous_id", "a2", None, 5))
    identities.apply(_assign("shop", "user_id", "u2", None, 5))
    assert client.get("/v1/users/anonymous_id/a2?key=r1").status_code == 404
    assert client.get("/v1/users/user_id/u2?key=r1").status_code == 404


def test_a_user_left_without_identities_is_still_found_by_id(tmp_path: Path) -> None:
    client, identities, _ = _client(tmp_path)
    identities.apply(_assign("shop", "anonymous_id", "a2", None, 5))
    assert client.get("/v1/users/user_id/u2?key=r1").json()["identities"] == {}


def test_keys_scope_lookups_to_their_project(tmp_path: Path) -> None:
    client, _, _ = _client(tmp_path)
    assert client.get("/v1/users/login_id/Alice?key=r1").json()["user_id"] == "u1"
    assert client.get("/v1/users/login_id/Alice?key=r2").json()["user_id"] == "u9"
    assert client.get("/v1/users/user_id/u1?key=r2").status_code == 404
    assert client.get("/v1/users/login_id/Alice?key=w1").status_code == 403
    assert client.get("/v1/users/login_id/Alice").status_code == 401
    assert client.get("/v1/users/login_id/Alice?key=nope").status_code == 401


def test_lookup_values_are_normalized_like_the_graph(tmp_path: Path) -> None:
    rules = rules_from_mapping({"types": {"mobile": {"hash": "sha256", "salt": "s"}}})
    client, identities, _ = _client(tmp_path, rules)
    hashed = rules.normalize("mobile", "13800138000")
    assert hashed is not None
    identities.apply(_assign("shop", "mobile", hashed.value, "u1", 9))
    answer = client.get("/v1/users/mobile/+86 138-0013-8000?key=r1")
    assert answer.json()["user_id"] == "u1"


def test_tags_keep_the_newest_value_and_removals(tmp_path: Path) -> None:
    tags = TagIndex()
    tags.load("shop", "u1", {"vip": True, "tier": "gold"}, at=100)
    tags.apply(TagChanges("shop", "u1", (TagChange("u1", "vip", None, False, 50, "old"),)))
    tags.apply(TagChanges("shop", "u1", (TagChange("u1", "tier", "gold", None, 150, "e"),)))
    tags.load("shop", "u1", {"tier": "silver"}, at=120)  # older than the removal
    assert tags.tags("shop", "u1") == ({"vip": True}, 150)
    assert tags.tags("shop", "nobody") == ({}, 0)
    assert len(tags) == 1


def test_health_reports_readiness(tmp_path: Path) -> None:
    identities, tags = IdentityIndex(), TagIndex()
    state = {"ready": False}
    client = AsgiClient(
        build_app(
            _settings(tmp_path), DEFAULT_RULES, identities, tags, ready=lambda: state["ready"]
        )
    )
    assert client.get("/healthz").status_code == 503
    state["ready"] = True
    assert client.get("/healthz").json()["status"] == "ok"
    assert "siyu_lookup_requests_total" in client.get("/metrics").text
