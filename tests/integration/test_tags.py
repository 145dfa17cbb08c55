"""Real-time tags end to end: collector → Tansu → tag agents → ClickHouse / lookup seam.

The stack runs a tag file with lifecycle durations of seconds, so transitions driven by
timers (with no new event) happen while the test waits.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas.merge_records import IdentityMerge, encode_merge
from sinks.tag_lookup import read_user_tags
from siyu.settings import TagSettings
from tests.stack import RunningStack, running_stack, stack_settings

pytestmark = pytest.mark.integration

TAGS_FILE = """
lifecycle: {new_for: 3s, silent_after: 6s, churned_after: 12s}
referral: {success_events: [register], koc_min: 2}
value_tiers: {low: 0.01, mid: 100, vip: 1000}
rfm:
  recency: [7, 14, 30, 60]
  frequency: [1, 2, 3, 5]
  monetary: [50, 100, 500, 1000]
content:
  weights: {favorite: 3}
  min_score: 1
rules:
  - name: high_intent
    when: count_7d['view_product'] >= 3 && orders == 0
  - name: big_spender
    when: total_paid >= 1000.0
"""


@pytest.fixture(scope="module")
def tag_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    tmp = tmp_path_factory.mktemp("tags")
    path = tmp / "tags.yaml"
    path.write_text(TAGS_FILE)
    settings = stack_settings(tmp / "data", tags=TagSettings(file=path, tick_s=0.3))
    with running_stack(settings) as running:
        yield running


def _event(anon: str, event: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": fields.pop("event_id", uuid.uuid4().hex),
        "type": "track",
        "event": event,
        "time": fields.pop("time", int(time.time() * 1000)),
        "platform": fields.pop("platform", "miniprogram"),
        "identities": {"anonymous_id": anon},
        "properties": fields.pop("properties", {}),
        "context": fields.pop("context", {}),
    }


def _post(stack: RunningStack, events: list[dict[str, Any]]) -> None:
    answer = stack.post(events)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(events)


def _user_id(stack: RunningStack, anon: str) -> str:
    query = (
        "SELECT any(user_id) FROM siyu.events "
        f"WHERE identities['anonymous_id'] = '{anon}' AND user_id != ''"
    )
    return str(stack.wait_for(query, lambda v: bool(v), timeout=60))


def _tag(stack: RunningStack, user: str, tag: str) -> str:
    return (
        f"SELECT tags['{tag}'] FROM siyu.user_tags FINAL WHERE user_id = '{user}' AND deleted = 0"
    )


def _tags(stack: RunningStack, user: str) -> dict[str, str]:
    rows = stack.sql(f"SELECT tags FROM siyu.user_tags FINAL WHERE user_id = '{user}'")
    return dict(rows[0]["tags"]) if rows else {}


def _lookup_until(stack: RunningStack, path: str, ok: Any, timeout: float = 30) -> Any:
    """GET the lookup API until ``ok(answer)``; return the answer."""
    return stack.lookup_until(path, ok, timeout)


def _sql_rows(stack: RunningStack) -> Any:
    def query(sql: str) -> list[list[Any]]:
        return [list(r.values()) for r in stack.sql(sql)]

    return query


def test_fact_source_content_and_rule_tags_reach_clickhouse_and_the_lookup(
    tag_stack: RunningStack,
) -> None:
    anon = f"facts-{uuid.uuid4().hex[:8]}"
    launch = _event(anon, "$MPLaunch", context={"scene": 1047, "query": {"qr_id": "qr-9"}})
    views = [_event(anon, "view_product", properties={"category": "shoes"}) for _ in range(3)]
    fav = _event(anon, "favorite", properties={"content_tags": ["running"]})
    sent = time.monotonic()
    _post(tag_stack, [launch, *views, fav])
    user = _user_id(tag_stack, anon)
    tag_stack.wait_for(_tag(tag_stack, user, "high_intent"), lambda v: v == "true", timeout=30)
    visible = time.monotonic() - sent
    tags = _tags(tag_stack, user)
    assert tags["first_channel"] == "qr"
    assert tags["first_scene"] == "1047"
    assert tags["first_qr_id"] == "qr-9"
    assert tags["first_platform"] == "miniprogram"
    assert tags["count_7d:view_product"] == "3"
    assert tags["favourite_category"] == "shoes"
    assert tags["interest:running"] == "true"
    assert tags["lifecycle"] == "new"
    answer = _lookup_until(
        tag_stack, f"anonymous_id/{anon}", lambda doc: doc["tags"].get("high_intent") is True
    )
    assert answer["user_id"] == user
    assert answer["tags"]["first_channel"] == "qr"
    assert answer["tags"]["count_7d:view_product"] == 3
    found = read_user_tags(_sql_rows(tag_stack), "default", user)
    assert found is not None
    assert found.tags["high_intent"] is True
    assert found.tags["count_30d:view_product"] == 3
    history = tag_stack.sql(
        f"SELECT tag, new, cause FROM siyu.tag_changes WHERE user_id = '{user}' "
        "AND tag = 'high_intent'"
    )
    assert [(h["new"], h["cause"]) for h in history] == [("true", fav["event_id"])]
    print(f"event → tag visible in ClickHouse: {visible:.2f}s")


def test_lifecycle_moves_to_silent_and_churned_without_new_events(
    tag_stack: RunningStack,
) -> None:
    anon = f"life-{uuid.uuid4().hex[:8]}"
    _post(tag_stack, [_event(anon, "$pageview")])
    user = _user_id(tag_stack, anon)
    tag_stack.wait_for(_tag(tag_stack, user, "lifecycle"), lambda v: v == "churned", timeout=60)
    # The history is its own topic and sink batch: it may land a moment after the tag.
    tag_stack.wait_for(
        f"SELECT count() FROM siyu.tag_changes WHERE user_id = '{user}' AND tag = 'lifecycle'",
        lambda n: n >= 4,
        timeout=60,
    )
    rows = tag_stack.sql(
        f"SELECT old, new, cause FROM siyu.tag_changes WHERE user_id = '{user}' "
        "AND tag = 'lifecycle' ORDER BY at"
    )
    assert [(r["old"], r["new"]) for r in rows] == [
        (None, "new"),
        ("new", "active"),
        ("active", "silent"),
        ("silent", "churned"),
    ]
    assert {r["cause"] for r in rows[1:]} == {"timer"}


def test_replayed_events_do_not_double_count_and_rfm_value_tier(tag_stack: RunningStack) -> None:
    anon = f"pay-{uuid.uuid4().hex[:8]}"
    first = _event(anon, "pay_order", properties={"order_id": "o1", "amount": 600})
    second = _event(anon, "pay_order", properties={"order_id": "o2", "amount": 500})
    _post(tag_stack, [first])
    _post(tag_stack, [first])  # a client retry: same event id
    _post(tag_stack, [second, first])
    user = _user_id(tag_stack, anon)
    tag_stack.wait_for(_tag(tag_stack, user, "orders"), lambda v: v == "2", timeout=30)
    tag_stack.wait_drained()
    tags = _tags(tag_stack, user)
    assert tags["orders"] == "2"
    assert tags["total_paid"] == "1100.0"
    assert tags["value_tier"] == "vip"
    assert tags["big_spender"] == "true"
    assert (tags["rfm_r"], tags["rfm_f"], tags["rfm_m"]) == ("5", "3", "5")
    assert tags["rfm_segment"] == "important_value"
    assert tags["repeat_buyer"] == "true"
    segment = tag_stack.scalar("SELECT users FROM siyu.tags_rfm WHERE segment = 'important_value'")
    assert int(segment) >= 1


def test_referral_credits_the_inviter_and_makes_a_koc(tag_stack: RunningStack) -> None:
    inviter_anon = f"inv-{uuid.uuid4().hex[:8]}"
    _post(tag_stack, [_event(inviter_anon, "$pageview")])
    inviter = _user_id(tag_stack, inviter_anon)
    for n in range(2):
        anon = f"invitee-{n}-{uuid.uuid4().hex[:8]}"
        visit = _event(anon, "$pageview", context={"share": {"sharer": inviter, "depth": 1}})
        _post(tag_stack, [visit, _event(anon, "register")])
    tag_stack.wait_for(_tag(tag_stack, inviter, "koc"), lambda v: v == "true", timeout=30)
    assert _tags(tag_stack, inviter)["invitees"] == "2"


def test_merge_of_two_users_combines_their_tags(tag_stack: RunningStack) -> None:
    a_anon, b_anon = f"ma-{uuid.uuid4().hex[:8]}", f"mb-{uuid.uuid4().hex[:8]}"
    _post(tag_stack, [_event(a_anon, "pay_order", properties={"amount": 40})])
    _post(
        tag_stack,
        [
            _event(
                b_anon, "$MPLaunch", context={"scene": 1007}, time=int(time.time() * 1000) - 1000
            ),
            _event(b_anon, "pay_order", properties={"amount": 70}),
        ],
    )
    a, b = _user_id(tag_stack, a_anon), _user_id(tag_stack, b_anon)
    tag_stack.wait_for(_tag(tag_stack, b, "orders"), lambda v: v == "1", timeout=30)
    tag_stack.wait_for(_tag(tag_stack, a, "orders"), lambda v: v == "1", timeout=30)
    merge = IdentityMerge("default", loser=b, survivor=a, time=int(time.time() * 1000))
    asyncio.run(_produce(tag_stack, "identity.merges", b, encode_merge(merge)))
    tag_stack.wait_for(_tag(tag_stack, a, "orders"), lambda v: v == "2", timeout=30)
    tags = _tags(tag_stack, a)
    assert tags["total_paid"] == "110.0"
    merged = _lookup_until(tag_stack, f"user_id/{a}", lambda d: d["tags"].get("orders") == 2)
    assert merged["tags"]["value_tier"] == "mid"
    assert tags["value_tier"] == "mid"
    assert tags["first_channel"] == "share"
    tag_stack.wait_for(
        f"SELECT count() FROM siyu.user_tags FINAL WHERE user_id = '{b}' AND deleted = 0",
        lambda v: int(v) == 0,
        timeout=30,
    )
    # The removals are their own records on their own topic: they land on their own time.
    tag_stack.wait_for(
        f"SELECT count() FROM siyu.tag_changes WHERE user_id = '{b}' AND cause = 'merge' "
        "AND new IS NULL",
        lambda v: int(v) > 0,
        timeout=30,
    )


def test_definition_file_reload_keeps_the_last_good_version(tag_stack: RunningStack) -> None:
    path = tag_stack.settings.tags.file
    assert path is not None
    good = path.read_text()
    try:
        path.write_text(good + "  - name: broken\n    when: nonsense > 1\n")
        anon = f"reload-{uuid.uuid4().hex[:8]}"
        time.sleep(1.5)
        _post(tag_stack, [_event(anon, "view_product") for _ in range(3)])
        user = _user_id(tag_stack, anon)
        tag_stack.wait_for(_tag(tag_stack, user, "high_intent"), lambda v: v == "true", 30)
        path.write_text(good + "  - name: browsing\n    when: count_7d['view_product'] >= 1\n")
        time.sleep(1.5)
        _post(tag_stack, [_event(anon, "view_product")])
        tag_stack.wait_for(_tag(tag_stack, user, "browsing"), lambda v: v == "true", 30)
    finally:
        path.write_text(good)


async def _produce(stack: RunningStack, topic: str, key: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            stack.settings.kafka.topic(topic), key=key.encode(), value=value
        )
    finally:
        await producer.stop()


def test_a_broken_definition_file_stops_the_start_with_file_line_and_reason(
    tmp_path: Path,
) -> None:
    from siyu.embedded import SupervisorError

    path = tmp_path / "tags.yaml"
    path.write_text("rules:\n  - name: x\n    when: ordrs > 1\n")
    settings = stack_settings(tmp_path / "data", tags=TagSettings(file=path))
    # The sink (which reads the definitions for its SQL) or the worker refuses first.
    refused = pytest.raises(SupervisorError, match=r"(worker-0|sink) exited")
    with refused as failed, running_stack(settings):
        pass
    part = re.search(r"(worker-0|sink) exited", str(failed.value))
    assert part is not None
    log = (tmp_path / "data" / "logs" / f"{part.group(1)}.log").read_text()
    assert f"{path}:3: rule 'x'" in log
    assert "unknown fact(s) ordrs" in log
