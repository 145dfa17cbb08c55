"""Live funnel counts against ClickHouse windowFunnel, on the real embedded stack.

Demo traffic goes through the collector; the live counters (``siyu.funnel_counts``,
from the stream's progress records) must equal ``windowFunnel`` over
``siyu.events_current`` for the same users and entry days, survive a replay of the same
events unchanged, and follow an identity merge of two users.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas.records import EventBatch, TrackEvent, encode_batch
from siyu.demo import send_demo
from streams.domain.funnel_sql import window_funnel_sql
from streams.funnel_config import funnels_of
from streams.zones import DEFAULT_ZONE, utc_offset_s
from tests.stack import RunningStack, running_stack, stack_settings

pytestmark = pytest.mark.integration

# The shipped files, as the stack's worker reads them; the default project's days.
DEFS = funnels_of().in_zone(utc_offset_s(DEFAULT_ZONE))
SOURCE = "siyu.events_current"


@pytest.fixture(scope="module")
def funnel_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(stack_settings(tmp_path_factory.mktemp("funnels"))) as running:
        yield running


def _live(stack: RunningStack, funnel: str) -> dict[tuple[str, int], int]:
    rows = stack.sql(
        "SELECT toString(day) AS day, step, users FROM siyu.funnel_counts "
        f"WHERE funnel = '{funnel}'"
    )
    return {(r["day"], int(r["step"])): int(r["users"]) for r in rows}


def _live_breakdown(stack: RunningStack, funnel: str) -> dict[tuple[str, str, str, int], int]:
    rows = stack.sql(
        "SELECT dimension, value, toString(day) AS day, step, users "
        f"FROM siyu.funnel_counts_by_breakdown WHERE funnel = '{funnel}'"
    )
    return {(r["dimension"], r["value"], r["day"], int(r["step"])): int(r["users"]) for r in rows}


def _expected(stack: RunningStack, funnel: str, breakdown: bool = False) -> dict[Any, int]:
    f = next(x for x in DEFS.funnels if x.name == funnel)
    sql = window_funnel_sql(f, source=SOURCE, breakdown=breakdown, fission=DEFS.fission)
    out: dict[Any, int] = {}
    for r in stack.sql(sql):
        key = (r["dimension"], r["value"]) if breakdown else ()
        out[(*key, str(r["day"]), int(r["step"]))] = int(r["users"])
    return out


def _settled(stack: RunningStack) -> None:
    """Drained, then the sink's last flush visible."""
    stack.wait_drained(timeout=120)
    time.sleep(1.0)
    stack.wait_drained(timeout=60)


def test_live_counts_equal_window_funnel(funnel_stack: RunningStack) -> None:
    report = send_demo(funnel_stack.settings, users=150, days=3, seed=11, concurrency=1)
    assert report.rejected == 0
    _settled(funnel_stack)
    live = _live(funnel_stack, "commerce")
    assert live, "no live counts"
    assert max(step for _, step in live) >= 4, "demo traffic reaches deep commerce steps"
    assert live == _expected(funnel_stack, "commerce")
    assert _live_breakdown(funnel_stack, "commerce") == _expected(funnel_stack, "commerce", True)
    fission = _live(funnel_stack, "fission")
    assert max(step for _, step in fission) >= 2, "demo shares bring visitors"
    assert fission == _expected(funnel_stack, "fission")


def test_replaying_the_same_events_changes_nothing(funnel_stack: RunningStack) -> None:
    before = _live(funnel_stack, "commerce"), _live(funnel_stack, "fission")
    steps_before = funnel_stack.scalar("SELECT count() FROM siyu.funnel_steps FINAL")
    send_demo(funnel_stack.settings, users=150, days=3, seed=11, concurrency=4)
    _settled(funnel_stack)
    assert (_live(funnel_stack, "commerce"), _live(funnel_stack, "fission")) == before
    assert funnel_stack.scalar("SELECT count() FROM siyu.funnel_steps FINAL") == steps_before


def _event(n: int, name: str, t: int, ids: dict[str, str], **props: Any) -> dict[str, Any]:
    return {
        "event_id": f"merge-{n}",
        "type": "track",
        "event": name,
        "time": t,
        "platform": "h5",
        "identities": ids,
        "properties": props,
        "context": {},
    }


def test_counts_follow_an_identity_merge(funnel_stack: RunningStack) -> None:
    now = int(time.time() * 1000)
    t0 = now - now % 86_400_000 + 3_600_000  # 01:00 UTC today: the chain stays in one day
    anon = {"anonymous_id": "merge-anon-1"}
    member = {"login_id": "merge-member-1"}
    # Two users as far as the graph knows: an anonymous browser and a logged-in member.
    first = [_event(1, "$pageview", t0, anon), _event(2, "view_product", t0 + 60_000, anon)]
    second = [
        _event(3, "add_to_cart", t0 + 120_000, member),
        _event(4, "submit_order", t0 + 180_000, member),
    ]
    for batch in (first, second):
        assert funnel_stack.post(batch).status_code == 200
    _settled(funnel_stack)
    day = time.strftime("%Y-%m-%d", time.gmtime(t0 / 1000))
    users_before = funnel_stack.scalar(
        "SELECT uniqExact(user_id) FROM siyu.events_current WHERE event_id LIKE 'merge-%'"
    )
    assert users_before == 2
    # The member logs in on the anonymous browser: one event with both ids merges them.
    login = _event(5, "login", t0 + 200_000, {**anon, **member})
    assert (
        funnel_stack.post([login, _event(6, "pay_order", t0 + 240_000, member)]).status_code == 200
    )
    _settled(funnel_stack)
    assert (
        funnel_stack.scalar(
            "SELECT uniqExact(user_id) FROM siyu.events_current WHERE event_id LIKE 'merge-%'"
        )
        == 1
    )
    merged_user = funnel_stack.scalar(
        "SELECT any(user_id) FROM siyu.events_current WHERE event_id = 'merge-1'"
    )
    reached = funnel_stack.sql(
        "SELECT step FROM siyu.funnel_steps_current WHERE funnel = 'commerce' AND dimension = '' "
        f"AND user_id = '{merged_user}' AND toString(day) = '{day}' ORDER BY step"
    )
    assert [int(r["step"]) for r in reached] == [1, 2, 3, 4, 5]
    live = _live(funnel_stack, "commerce")
    assert live == _expected(funnel_stack, "commerce")


def _publish_stitched(stack: RunningStack, batch: EventBatch) -> None:
    """Put a stitched record on events.stitched as the stitch agent would."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka.bootstrap)
        await producer.start()
        try:
            topic = stack.settings.kafka.topic("events.stitched")
            await producer.send_and_wait(topic, encode_batch(batch), key=batch.key.encode())
        finally:
            await producer.stop()

    asyncio.run(send())


def test_a_record_stitched_to_a_merged_away_user_reaches_the_survivor(
    funnel_stack: RunningStack,
) -> None:
    """A record of the loser still in flight when the merge is decided (stitched on the
    fast path of another raw partition against the graph of just before the merge) is
    applied to the survivor's funnel progress, counts and tags, not to the loser's."""
    now = int(time.time() * 1000)
    t0 = now - now % 86_400_000 + 7_200_000  # 02:00 UTC today
    anon = {"anonymous_id": "late-anon-1"}
    member = {"login_id": "late-member-1"}
    assert funnel_stack.post([_event(11, "$pageview", t0, anon)]).status_code == 200
    assert funnel_stack.post([_event(12, "view_product", t0 + 1_000, member)]).status_code == 200
    _settled(funnel_stack)
    ids = "('merge-11', 'merge-12')"
    loser = funnel_stack.scalar("SELECT user_id FROM siyu.events WHERE event_id = 'merge-12'")
    assert (
        funnel_stack.post([_event(13, "login", t0 + 2_000, {**anon, **member})]).status_code == 200
    )
    _settled(funnel_stack)
    survivor = funnel_stack.scalar(
        f"SELECT any(user_id) FROM siyu.events_current WHERE event_id IN {ids}"
    )
    assert survivor != loser
    assert (
        funnel_stack.scalar(
            f"SELECT uniqExact(user_id) FROM siyu.events_current WHERE event_id IN {ids}"
        )
        == 1
    )
    before = int(
        funnel_stack.scalar(
            f"SELECT events FROM siyu.user_event_counts WHERE user_id = '{survivor}'",
            operator=True,
        )
    )
    # The in-flight record: stitched to the loser, after its state moved to the survivor.
    late = [
        TrackEvent(
            event_id=f"merge-{n}",
            type="track",
            event=name,
            time=t0 + n * 1_000,
            platform="h5",
            identities=member,
            properties={"amount": 10},
            context={},
            user_id=loser,
        )
        for n, name in ((14, "add_to_cart"), (15, "submit_order"), (16, "pay_order"))
    ]
    batch = EventBatch(
        project="default", key=loser, received_at=now, events=tuple(late),
        origin="events.raw/0", origin_offset=10**9,
    )  # fmt: skip
    _publish_stitched(funnel_stack, batch)
    _publish_stitched(funnel_stack, batch)  # and its replay changes nothing
    _settled(funnel_stack)
    day = time.strftime("%Y-%m-%d", time.gmtime(t0 / 1000))
    reached = funnel_stack.sql(
        "SELECT step FROM siyu.funnel_steps FINAL WHERE funnel = 'commerce' AND dimension = '' "
        f"AND user_id = '{survivor}' AND toString(day) = '{day}' ORDER BY step"
    )
    assert [int(r["step"]) for r in reached] == [1, 2, 3, 4, 5]
    counts = funnel_stack.sql(
        "SELECT user_id, events FROM siyu.user_event_counts "
        f"WHERE user_id IN ('{survivor}', '{loser}')",
        operator=True,
    )
    assert {r["user_id"]: int(r["events"]) for r in counts}[survivor] == before + 3
    tags = funnel_stack.scalar(
        f"SELECT tags['orders'] FROM siyu.user_tags FINAL WHERE user_id = '{survivor}'"
    )
    assert tags == "1"


def test_a_sharer_known_by_one_anonymous_id_is_credited(funnel_stack: RunningStack) -> None:
    """An anonymous visitor who shares (no second identity ever) is credited with the
    invitee their link brought, whether the link names them by the siyu SDK's anonymous
    id (``context.share.sharer``) or by Sensors' ``$share_distinct_id``."""
    now = int(time.time() * 1000)
    t0 = now - now % 86_400_000 + 3_000_000
    # Anonymous ids are compared lowercased (identity rules); the link keeps the case the
    # client sent (a mini-program openid used as distinct id has capitals).
    sharer = {"anonymous_id": "oLone-Sharer-ANON"}
    assert funnel_stack.post([_event(31, "share", t0, sharer)]).status_code == 200
    _settled(funnel_stack)
    sdk_visit = {**_event(32, "$pageview", t0 + 60_000, {"anonymous_id": "lone-invitee-1"}),
                 "context": {"share": {"sharer": " oLone-Sharer-ANON", "depth": 1}}}  # fmt: skip
    sensors_visit = _event(
        33, "$pageview", t0 + 90_000, {"anonymous_id": "lone-invitee-2"},
        **{"$share_distinct_id": "oLone-Sharer-ANON", "$share_depth": 1},
    )  # fmt: skip
    assert funnel_stack.post([sdk_visit, sensors_visit]).status_code == 200
    _settled(funnel_stack)
    sharer_user = funnel_stack.scalar(
        "SELECT any(user_id) FROM siyu.events_current WHERE event_id = 'merge-31'"
    )
    invitees = funnel_stack.sql(
        "SELECT DISTINCT invitee FROM siyu.fission_edges_current "
        f"WHERE sharer = '{sharer_user}' ORDER BY invitee"
    )
    expected = funnel_stack.sql(
        "SELECT DISTINCT user_id FROM siyu.events_current "
        "WHERE event_id IN ('merge-32', 'merge-33') ORDER BY user_id"
    )
    assert [r["invitee"] for r in invitees] == [r["user_id"] for r in expected]
    assert len(invitees) == 2
