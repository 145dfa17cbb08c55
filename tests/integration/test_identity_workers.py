"""Scaled out under traffic: three workers on eight partitions, one killed (SIGKILL)
mid-stream and restarted by the supervisor, then a fourth added mid-stream. The identity
graph ends the same as the graph the rules give without any fault, and ClickHouse holds
every sent event exactly once, attributed to the right person."""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from streams.domain.identity_rules import Identity
from tests.integration.test_identity import lookup
from tests.stack import RunningStack, restart_worker, running_stack, stack_settings
from tests.unit.streams.domain.identity_graph import MemoryGraph

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERSONS = 120
BASE_TIME = int(time.time() * 1000) - 86_400_000


def _event(identities: dict[str, str], at: int, platform: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "track",
        "event": "$pageview",
        "time": BASE_TIME + at,
        "platform": platform,
        "identities": identities,
    }


def traffic(seed: int) -> list[list[list[dict[str, Any]]]]:
    """Rounds of requests; a request is one person's events of that round."""
    rng = random.Random(seed)
    p = uuid.uuid4().hex[:6]
    rounds: list[list[list[dict[str, Any]]]] = [[] for _ in range(5)]
    for i in range(PERSONS):
        anon, mini, oa = f"{p}a{i}", f"{p}om{i}", f"{p}oo{i}"
        union, login, device = f"{p}u{i}", f"{p}l{i}", f"{p}d{i}"
        t = i * 1000
        rounds[0].append([_event({"anonymous_id": anon}, t + k, "h5") for k in range(3)])
        rounds[1].append(
            [
                _event({"wx_openid:wxmini": mini, "wx_unionid": union}, t + 10, "miniprogram"),
                _event({"wx_openid:wxmini": mini}, t + 11, "miniprogram"),
            ]
        )
        rounds[2].append(
            [_event({"login_id": login, "wx_unionid": union, "device_id": device}, t + 20, "app")]
        )
        if i % 2 == 0:
            rounds[3].append([_event({"anonymous_id": anon, "login_id": login}, t + 30, "h5")])
        if i % 3 == 0:
            rounds[4].append(
                [_event({"wx_openid:wxoa": oa, "wx_unionid": union}, t + 40, "official_account")]
            )
    for requests in rounds:
        rng.shuffle(requests)
    return rounds


def expected_groups(rounds: list[list[list[dict[str, Any]]]]) -> set[frozenset[Identity]]:
    graph = MemoryGraph()
    for requests in rounds:
        for request in requests:
            for event in request:
                graph.send(event["identities"], event_id=event["event_id"], time=event["time"])
    return graph.groups()


def stored_groups(stack: RunningStack) -> set[frozenset[Identity]]:
    rows = stack.sql(
        "SELECT id_type, id_value, user_id FROM siyu.identity_map "
        "WHERE id_type != 'user_id' AND deleted = 0"
    )
    by_user: dict[str, set[Identity]] = defaultdict(set)
    for r in rows:
        by_user[r["user_id"]].add(Identity(r["id_type"], r["id_value"]))
    return {frozenset(v) for v in by_user.values()}


def events_per_person(
    rounds: list[list[list[dict[str, Any]]]], groups: set[frozenset[Identity]]
) -> list[int]:
    """Ground truth: how many sent events belong to each person (sorted)."""
    person = {identity: group for group in groups for identity in group}
    counts: dict[frozenset[Identity], int] = defaultdict(int)
    for requests in rounds:
        for request in requests:
            for event in request:
                key, value = next(iter(event["identities"].items()))
                counts[person[Identity(key, value)]] += 1
    return sorted(counts.values())


@pytest.mark.needs_quirks(
    "true_highwaters",
    "empty_active_fetch",
    "seek_committed_or_beginning",
    reason="killed and added workers recover tables and take over first assignments",
)
def test_scaled_out_workers_killed_and_added_under_traffic_count_exactly(tmp_path: Path) -> None:
    rounds = traffic(seed=11)
    expected = expected_groups(rounds)
    sent: list[str] = []
    settings = stack_settings(tmp_path / "data", workers=3)
    eight = settings.kafka.model_copy(update={"partitions": 8})
    settings = settings.model_copy(update={"kafka": eight})
    with running_stack(settings) as stack:
        for number, requests in enumerate(rounds):
            for i, request in enumerate(requests):
                answer = stack.post(request)
                assert answer.status_code == 200, answer.text
                sent += [e["event_id"] for e in request]
                if number == 1 and i == len(requests) // 2:
                    # Mid-round: the worker holds unprocessed and uncommitted records.
                    restart_worker(stack, index=1, hard=True)
                if number == 3 and i == len(requests) // 2:
                    assert stack.stack.add_worker() == 3  # the group rebalances onto it
        stack.wait_drained(timeout=180)
        ids = ", ".join(repr(e) for e in sent)
        stack.wait_for(
            f"SELECT count() FROM siyu.events WHERE event_id IN ({ids})",
            lambda n: int(n) >= len(sent),
            timeout=120,
        )
        totals = stack.sql(
            "SELECT count() AS n, uniqExact(event_id) AS u FROM siyu.events "
            f"WHERE event_id IN ({ids})",
            operator=True,
        )[0]
        assert (int(totals["n"]), int(totals["u"])) == (len(sent), len(sent))
        assert stored_groups(stack) == expected
        per_user = stack.sql(
            "SELECT user_id, count() AS n FROM siyu.events_current "
            f"WHERE event_id IN ({ids}) GROUP BY user_id"
        )
        assert sorted(int(r["n"]) for r in per_user) == events_per_person(rounds, expected)
        person = next(g for g in expected if len(g) >= 5)
        some = min(person)
        answer = lookup(stack, some.key, some.value)
        held = {Identity(k, v) for k, values in answer["identities"].items() for v in values}
        assert held == person
