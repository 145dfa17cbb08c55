"""Pending webhook deliveries on disk: durable across restarts, bounded per subscription.

Every job read from the change topics is written here (SQLite, in the data directory)
before the consumer commits its offsets, and stays until its delivery is finished
(delivered, refused or given up). A restart — a crash, ``kill -9`` — therefore loses
nothing and repeats nothing: the jobs are loaded back in their order (per user, the
order they were read) with their attempts so far, and a change read again (offsets not
yet committed) is recognised by its ``(subscription, event_id)`` and not added twice. A
finished job is remembered for ``keep_done_s`` for that purpose.

A forgotten user (a privacy request, ``privacy.forget``) loses every job here, pending or
finished, and no later change of theirs is stored: a change published before the request
and read after it is not delivered.

Each subscription holds at most ``max_pending`` unfinished jobs (a dead receiver's
backlog must not fill the memory or the disk): a job beyond that is not queued but
returned as overflow, for the caller to log as a dead letter with its reason.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from webhooks.jobs import Job

__all__ = ["Outbox", "Pending"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    project TEXT NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    change TEXT NOT NULL,
    at INTEGER NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_try REAL,
    done_at REAL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX IF NOT EXISTS jobs_pending ON jobs (subscription_id, done_at, seq);
CREATE INDEX IF NOT EXISTS jobs_user ON jobs (project, user_id);
CREATE TABLE IF NOT EXISTS forgotten (
    project TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (project, user_id)
);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    """An unfinished job loaded back, with its attempts so far."""

    job: Job
    attempts: int
    first_try: float | None


class Outbox:
    """The jobs not yet finished, per subscription (one SQLite file)."""

    def __init__(self, path: Path, *, max_pending: int, keep_done_s: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit off: each public method is one transaction. WAL + synchronous=NORMAL
        # keeps every committed write across a kill of the process.
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + _SCHEMA)
        self.max_pending = max_pending
        self.keep_done_s = keep_done_s
        self.forgotten: set[tuple[str, str]] = set(
            self.db.execute("SELECT project, user_id FROM forgotten").fetchall()
        )
        self.counts: Counter[str] = Counter(
            dict(
                self.db.execute(
                    "SELECT subscription_id, count(*) FROM jobs WHERE done_at IS NULL "
                    "GROUP BY subscription_id"
                ).fetchall()
            )
        )

    def close(self) -> None:
        self.db.close()

    def add(self, jobs: list[Job], now: float) -> tuple[list[Job], list[Job]]:
        """Store ``jobs``; return ``(queued, overflow)``.

        A job already stored (pending or finished) is in neither list. Overflow jobs are
        stored as finished, so reading them again does not overflow them twice.
        """
        queued: list[Job] = []
        overflow: list[Job] = []
        self.db.execute("BEGIN")
        try:
            for job in jobs:
                if (job.project, job.user_id) in self.forgotten:
                    continue
                full = self.counts[job.subscription_id] >= self.max_pending
                added = self.db.execute(
                    "INSERT OR IGNORE INTO jobs (subscription_id, event_id, project, user_id, "
                    "kind, name, change, at, body, done_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        job.subscription_id,
                        job.event_id,
                        job.project,
                        job.user_id,
                        job.kind,
                        job.name,
                        job.change,
                        job.at,
                        job.body,
                        now if full else None,
                    ),
                ).rowcount
                if not added:
                    continue
                if full:
                    overflow.append(job)
                else:
                    self.counts[job.subscription_id] += 1
                    queued.append(job)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self.counts = self._recount()
            raise
        return queued, overflow

    def _recount(self) -> Counter[str]:
        rows = self.db.execute(
            "SELECT subscription_id, count(*) FROM jobs WHERE done_at IS NULL "
            "GROUP BY subscription_id"
        ).fetchall()
        return Counter(dict(rows))

    def pending(self, subscription_id: str) -> list[Pending]:
        """The subscription's unfinished jobs in the order they were read."""
        rows = self.db.execute(
            "SELECT project, user_id, kind, name, change, at, event_id, body, attempts, "
            "first_try FROM jobs WHERE subscription_id = ? AND done_at IS NULL ORDER BY seq",
            (subscription_id,),
        ).fetchall()
        return [
            Pending(
                Job(subscription_id, project, user, kind, name, change, at, eid, bytes(body)),
                attempts,
                first_try,
            )
            for project, user, kind, name, change, at, eid, body, attempts, first_try in rows
        ]

    def attempted(self, job: Job, attempts: int, first_try: float) -> None:
        """Record a failed attempt that will be retried."""
        self.db.execute(
            "UPDATE jobs SET attempts = ?, first_try = ? "
            "WHERE subscription_id = ? AND event_id = ?",
            (attempts, first_try, job.subscription_id, job.event_id),
        )

    def finish(self, job: Job, now: float) -> None:
        """The job is finished: never deliver it again."""
        changed = self.db.execute(
            "UPDATE jobs SET done_at = ? WHERE subscription_id = ? AND event_id = ? "
            "AND done_at IS NULL",
            (now, job.subscription_id, job.event_id),
        ).rowcount
        if changed:
            self.counts[job.subscription_id] -= 1

    def drop_subscription(self, subscription_id: str) -> int:
        """Forget a deleted subscription's jobs; return how many were unfinished."""
        self.db.execute("DELETE FROM jobs WHERE subscription_id = ?", (subscription_id,))
        return self.counts.pop(subscription_id, 0)

    def forget(self, project: str, user_id: str) -> int:
        """Drop every job of a forgotten user and refuse their later ones; return how
        many were unfinished."""
        self.db.execute("BEGIN")
        try:
            self.db.execute(
                "INSERT OR IGNORE INTO forgotten (project, user_id) VALUES (?, ?)",
                (project, user_id),
            )
            dropped = self.db.execute(
                "DELETE FROM jobs WHERE project = ? AND user_id = ? AND done_at IS NULL",
                (project, user_id),
            ).rowcount
            self.db.execute(
                "DELETE FROM jobs WHERE project = ? AND user_id = ?", (project, user_id)
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.forgotten.add((project, user_id))
        self.counts = self._recount()
        return dropped

    def subscriptions(self) -> set[str]:
        """Subscriptions with unfinished jobs."""
        return {sub for sub, n in self.counts.items() if n > 0}

    def purge(self, now: float) -> int:
        """Forget jobs finished more than ``keep_done_s`` ago; return how many."""
        return self.db.execute(
            "DELETE FROM jobs WHERE done_at IS NOT NULL AND done_at < ?",
            (now - self.keep_done_s,),
        ).rowcount
