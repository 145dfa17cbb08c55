"""The outbox journal: what is written survives a new process; trimmed behind the oldest
unconfirmed message."""

from __future__ import annotations

from pathlib import Path

from collectors.journal import Journal
from collectors.outbox import Outbox


def _message(n: int) -> tuple[str, bytes, bytes]:
    return ("events.raw", f"k{n}".encode(), f"v{n}".encode() * 10)


def test_journal_survives_a_restart_and_trims_what_clickhouse_confirmed(tmp_path: Path) -> None:
    journal = Journal(tmp_path, max_bytes=1 << 20, margin_ms=100)
    outbox = Outbox(max_bytes=1 << 20, resend_after_ms=1000)
    for n in range(6):
        assert journal.append([_message(n)], now_ms=1000 * n)
        outbox.acked(("events.raw", 0, n), 1000 * n + 10, _message(n))
    journal.close()  # a kill: nothing else runs

    again = Journal(tmp_path, max_bytes=1 << 20, margin_ms=100)
    records = again.unconfirmed()
    assert [r.message for r in records] == [_message(n) for n in range(6)]
    assert [r.spooled_at_ms for r in records] == [1000 * n for n in range(6)]

    # ClickHouse holds the first three: the journal forgets them, keeps the rest.
    outbox.confirm(p.seq for p in outbox.oldest(3))
    assert outbox.oldest_accepted_ms() == 3010
    left = again.trim(outbox.oldest_accepted_ms(), now_ms=9000)
    assert [r.message for r in again.unconfirmed()] == [_message(n) for n in range(3, 6)]
    assert left == again.size_bytes > 0
    # Nothing pending: everything older than now less the margin goes.
    assert again.trim(None, now_ms=9000) == 0
    assert again.unconfirmed() == []


def test_a_full_journal_refuses_and_counts(tmp_path: Path) -> None:
    journal = Journal(tmp_path, max_bytes=1 << 16, margin_ms=0)
    big = ("events.raw", b"k", b"x" * 40_000)
    assert journal.append([big], now_ms=1)
    assert not journal.append([big, big], now_ms=2)
    assert journal.refused == 2
    assert [r.message for r in journal.unconfirmed()] == [big]
