"""Which changes go to which subscription, as delivery jobs with their JSON body.

A job's ``event_id`` (the idempotency key) is derived from the subscription and the
change itself, so a change read again after a restart gets the same id and a receiver
can drop the duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from schemas.segment_records import SegmentChanges, Subscription, WebhookDelivery
from schemas.tag_records import TagChanges

__all__ = ["Job", "attempt_record", "segment_jobs", "tag_jobs"]


@dataclass(frozen=True, slots=True)
class Job:
    subscription_id: str
    project: str
    user_id: str
    kind: str
    name: str
    change: str
    at: int
    event_id: str
    body: bytes = field(repr=False)
    source: tuple[str, int, int] = ("", 0, 0)
    """(topic, partition, offset) of the record it came from."""


def attempt_record(
    job: Job,
    *,
    attempt: int,
    status: int,
    outcome: str,
    latency_ms: float,
    at: int,
    error: str,
    body: str = "",
) -> WebhookDelivery:
    """The ``webhooks.deliveries`` record of one attempt at ``job`` (or of its refusal)."""
    return WebhookDelivery(
        subscription_id=job.subscription_id,
        project=job.project,
        user_id=job.user_id,
        event_id=job.event_id,
        kind=job.kind,
        name=job.name,
        change=job.change,
        attempt=attempt,
        status=status,
        outcome=outcome,
        latency_ms=latency_ms,
        at=at,
        error=error,
        body=body,
    )


def _event_id(sub: Subscription, user: str, kind: str, name: str, change: str, at: int,
              cause: str) -> str:  # fmt: skip
    raw = "\x1f".join((sub.id, user, kind, name, change, str(at), cause))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _job(
    sub: Subscription,
    source: tuple[str, int, int],
    *,
    user_id: str,
    kind: str,
    name: str,
    change: str,
    at: int,
    cause: str,
    **extra: object,
) -> Job:
    """One delivery; its body names the segment or tag under ``kind`` (``segment``/``tag``)."""
    eid = _event_id(sub, user_id, kind, name, change, at, cause)
    body = {
        "event_id": eid,
        "subscription_id": sub.id,
        "project": sub.project,
        "user_id": user_id,
        kind: name,
        "change": change,
        **extra,
        "at": at,
        "cause": cause,
    }
    return Job(
        sub.id, sub.project, user_id, kind, name, change, at, eid, orjson.dumps(body), source
    )


def segment_jobs(
    subs: Iterable[Subscription], record: SegmentChanges, source: tuple[str, int, int]
) -> list[Job]:
    return [
        _job(
            sub,
            source,
            user_id=c.user_id,
            kind="segment",
            name=c.segment,
            change=c.change,
            at=c.at,
            cause=c.cause,
        )
        for sub in subs
        if sub.project == record.project and sub.segments
        for c in record.changes
        if c.segment in sub.segments and c.at >= sub.created_at
    ]


def _tag_change(old: object, new: object) -> str:
    if old is None:
        return "added"
    return "removed" if new is None else "changed"


def tag_jobs(
    subs: Iterable[Subscription], record: TagChanges, source: tuple[str, int, int]
) -> list[Job]:
    return [
        _job(
            sub,
            source,
            user_id=c.user_id,
            kind="tag",
            name=c.tag,
            change=_tag_change(c.old, c.new),
            at=c.at,
            cause=c.cause,
            old=c.old,
            new=c.new,
        )
        for sub in subs
        if sub.project == record.project and sub.tags
        for c in record.changes
        if c.tag in sub.tags and c.at >= sub.created_at
    ]
