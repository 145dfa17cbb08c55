"""Retry policy of webhook deliveries (pure: the caller passes the time and randomness).

- 2xx: delivered.
- 408 and 429: retried, after ``Retry-After`` when the receiver gives one.
- any other 4xx (and 3xx: redirects are not followed): the receiver refused the body;
  retrying would not change its answer, so it goes to the dead letters at once.
- 5xx, timeouts and connection errors: retried.

Retries wait ``first · 2^(attempt-1)`` seconds, capped, with "equal jitter" (between half
and all of it) so a receiver coming back is not hit by every delivery at the same
instant, until ``retry_for`` seconds have passed since the first attempt; then the
delivery is a dead letter.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from typing import Literal

__all__ = ["Verdict", "backoff", "judge", "retry_after_seconds"]

Kind = Literal["delivered", "retry", "failed", "dead_letter"]


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Kind
    wait_s: float = 0.0
    """For ``retry``: how long to wait before the next attempt."""
    reason: str = ""


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def backoff(attempt: int, *, first: float, cap: float, rand: float) -> float:
    """Pause after failed attempt number ``attempt`` (1-based); ``rand`` in [0, 1)."""
    full: float = min(cap, first * 2.0 ** min(attempt - 1, 62))
    return full / 2 + full / 2 * rand


def judge(
    status: int | None,
    *,
    attempt: int,
    retry_after: str | None,
    first_attempt_at: float,
    now: float,
    retry_for: float,
    first: float,
    cap: float,
    rand: float,
    error: str = "",
) -> Verdict:
    """What to do after an attempt that got ``status`` (None: no answer)."""
    if status is not None and 200 <= status < 300:
        return Verdict("delivered")
    if status is not None and status not in (408, 429) and status < 500:
        return Verdict("failed", reason=f"receiver answered {status}")
    reason = error or f"receiver answered {status}"
    wait = backoff(attempt, first=first, cap=cap, rand=rand)
    if status in (408, 429):
        asked = retry_after_seconds(retry_after, now)
        if asked is not None:
            wait = asked
    if now + wait - first_attempt_at > retry_for:
        return Verdict("dead_letter", reason=f"{reason}; gave up after {attempt} attempts")
    return Verdict("retry", wait, reason)
