"""Signing, retry policy, target checks and job matching of webhook deliveries."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest

from schemas.segment_records import SegmentChanges, Subscription
from schemas.tag_records import TagChanges
from siyu.settings import Settings
from streams.domain.segments import SegmentChange
from streams.domain.tag_definitions import TagChange
from webhooks.jobs import segment_jobs, tag_jobs
from webhooks.retry import backoff, judge, retry_after_seconds
from webhooks.signing import sign, verify
from webhooks.targets import own_listeners, target_problem


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k", 1_700_000_000, body) == f"sha256={expected}"
    assert verify("k", "1700000000", body, f"sha256={expected}")
    assert not verify("k", "1700000001", body, f"sha256={expected}")
    assert not verify("other", "1700000000", body, f"sha256={expected}")
    assert not verify("k", "soon", body, f"sha256={expected}")


RETRY = {"first_attempt_at": 0.0, "retry_for": 86_400.0, "first": 1.0, "cap": 3600.0}


@pytest.mark.parametrize(
    ("status", "retry_after", "kind", "wait"),
    [
        pytest.param(200, None, "delivered", 0.0, id="2xx"),
        pytest.param(204, None, "delivered", 0.0, id="204"),
        pytest.param(400, None, "failed", 0.0, id="400-not-retried"),
        pytest.param(404, None, "failed", 0.0, id="404-not-retried"),
        pytest.param(301, None, "failed", 0.0, id="redirect-not-followed"),
        pytest.param(429, "7", "retry", 7.0, id="429-retry-after"),
        pytest.param(408, None, "retry", 1.0, id="408-backoff"),
        pytest.param(503, "99", "retry", 1.0, id="5xx-backoff"),
        pytest.param(None, None, "retry", 1.0, id="timeout"),
    ],
)
def test_verdicts(status: int | None, retry_after: str | None, kind: str, wait: float) -> None:
    verdict = judge(status, attempt=1, retry_after=retry_after, now=10.0, rand=0.999999, **RETRY)
    assert verdict.kind == kind
    assert verdict.wait_s == pytest.approx(wait, abs=1e-3)


def test_backoff_doubles_with_jitter_and_caps() -> None:
    assert backoff(1, first=1, cap=60, rand=0.0) == 0.5
    assert backoff(4, first=1, cap=60, rand=0.999) == pytest.approx(8, abs=0.01)
    assert backoff(40, first=1, cap=60, rand=0.5) == 45
    assert backoff(500, first=1, cap=60, rand=0.0) == 30


def test_gives_up_after_the_retry_window() -> None:
    late = judge(500, attempt=30, retry_after=None, now=86_399.0, rand=0.5, **RETRY)
    assert late.kind == "dead_letter"
    assert "gave up after 30 attempts" in late.reason


def test_retry_after_as_http_date() -> None:
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", 40.0) == 60.0
    assert retry_after_seconds("garbage", 0.0) is None
    assert retry_after_seconds(None, 0.0) is None


def test_targets() -> None:
    settings = Settings()
    own = own_listeners(settings)
    port = settings.lookup.port
    assert target_problem("ftp://example.com/x", own) == "the target must be an http(s) URL"
    assert target_problem(f"http://localhost:{port}/v1", own) == "the target points at siyu itself"
    assert target_problem(f"http://127.0.0.1:{settings.collector.port}/", own) is not None
    assert target_problem("http://127.0.0.1:1/hook", own) is None
    assert target_problem("https://example.com/hook", own) is None
    assert target_problem("http://", own) is not None


SUB = Subscription("sub1", "p", "http://x", "k", ("vip",), ("paying",), created_at=100)


def test_jobs_match_project_name_and_creation_time() -> None:
    changes = SegmentChanges(
        "p",
        "u1",
        (
            SegmentChange("u1", "vip", "enter", 150, "ev1"),
            SegmentChange("u1", "other", "enter", 150, "ev1"),
            SegmentChange("u1", "vip", "exit", 50, "ev0"),  # before the subscription
        ),
    )
    jobs = segment_jobs([SUB], changes, ("t", 0, 7))
    assert [(j.name, j.change, j.source) for j in jobs] == [("vip", "enter", ("t", 0, 7))]
    body = orjson.loads(jobs[0].body)
    assert body == {
        "event_id": jobs[0].event_id,
        "subscription_id": "sub1",
        "project": "p",
        "user_id": "u1",
        "segment": "vip",
        "change": "enter",
        "at": 150,
        "cause": "ev1",
    }
    # The same change read again gets the same idempotency key.
    assert segment_jobs([SUB], changes, ("t", 0, 9))[0].event_id == jobs[0].event_id
    assert segment_jobs([SUB], SegmentChanges("q", "u1", changes.changes), ("t", 0, 1)) == []
    tags = TagChanges(
        "p",
        "u1",
        (
            TagChange("u1", "paying", None, True, 150, "ev1"),
            TagChange("u1", "paying", True, None, 160, "timer"),
            TagChange("u1", "paying", 1, 2, 170, "ev2"),
            TagChange("u1", "koc", None, True, 150, "ev1"),
        ),
    )
    assert [j.change for j in tag_jobs([SUB], tags, ("t", 0, 1))] == [
        "added",
        "removed",
        "changed",
    ]
    no_tags = Subscription("s2", "p", "http://x", "k", ("vip",), ())
    assert tag_jobs([no_tags], tags, ("t", 0, 1)) == []
