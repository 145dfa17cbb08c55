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

from schemas.segment_records import SegmentChanges, Subscription
from schemas.tag_records import TagChanges

__all__ = ["Job", "segment_jobs", "tag_jobs"]


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


def _event_id(sub: Subscription, user: str, kind: str, name: str, change: str, at: int,
              cause: str) -> str:  # fmt: skip
    raw = "\x1f".join((sub.id, user, kind, name, change, str(at), cause))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def segment_jobs(
    subs: Iterable[Subscription], record: SegmentChanges, source: tuple[str, int, int]
) -> list[Job]:
    jobs = []
    for sub in subs:
        if sub.project != record.project or not sub.segments:
            continue
        for c in record.changes:
            if c.segment not in sub.segments or c.at < sub.created_at:
                continue
            eid = _event_id(sub, c.user_id, "segment", c.segment, c.change, c.at, c.cause)
            body = {
                "event_id": eid,
                "subscription_id": sub.id,
                "project": record.project,
                "user_id": c.user_id,
                "segment": c.segment,
                "change": c.change,
                "at": c.at,
                "cause": c.cause,
            }
            jobs.append(
                Job(
                    sub.id,
                    sub.project,
                    c.user_id,
                    "segment",
                    c.segment,
                    c.change,
                    c.at,
                    eid,
                    orjson.dumps(body),
                    source,
                )
            )
    return jobs


def _tag_change(old: object, new: object) -> str:
    if old is None:
        return "added"
    return "removed" if new is None else "changed"


def tag_jobs(
    subs: Iterable[Subscription], record: TagChanges, source: tuple[str, int, int]
) -> list[Job]:
    jobs = []
    for sub in subs:
        if sub.project != record.project or not sub.tags:
            continue
        for c in record.changes:
            if c.tag not in sub.tags or c.at < sub.created_at:
                continue
            change = _tag_change(c.old, c.new)
            eid = _event_id(sub, c.user_id, "tag", c.tag, change, c.at, c.cause)
            body = {
                "event_id": eid,
                "subscription_id": sub.id,
                "project": record.project,
                "user_id": c.user_id,
                "tag": c.tag,
                "change": change,
                "old": c.old,
                "new": c.new,
                "at": c.at,
                "cause": c.cause,
            }
            jobs.append(
                Job(
                    sub.id,
                    sub.project,
                    c.user_id,
                    "tag",
                    c.tag,
                    change,
                    c.at,
                    eid,
                    orjson.dumps(body),
                    source,
                )
            )
    return jobs
