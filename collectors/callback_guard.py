"""Replay protection for Tencent's server callbacks: fresh timestamps, each callback once."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["MAX_AGE_S", "ReplayGuard"]

# Tencent signs the timestamp; a signed request older than this is a replay, not a retry
# (Tencent retries three times within about 15 seconds).
MAX_AGE_S = 300


class ReplayGuard:
    """Keys seen within the last ``window_s`` seconds, at most ``capacity`` of them.

    A callback is refused when its timestamp is older than :data:`MAX_AGE_S`, so keys
    older than that can be forgotten: the request that would repeat them is refused
    anyway. The capacity bounds memory under a flood; the oldest keys go first.
    """

    def __init__(self, *, window_s: int = MAX_AGE_S * 2, capacity: int = 200_000) -> None:
        self.window_s = window_s
        self.capacity = capacity
        self._seen: OrderedDict[str, int] = OrderedDict()

    def first_time(self, key: str, now_s: int) -> bool:
        """True the first time ``key`` is offered (and remember it); False for a repeat."""
        self._expire(now_s)
        if key in self._seen:
            return False
        self._seen[key] = now_s
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def _expire(self, now_s: int) -> None:
        horizon = now_s - self.window_s
        while self._seen:
            oldest_key = next(iter(self._seen))
            if self._seen[oldest_key] >= horizon:
                return
            del self._seen[oldest_key]


def is_stale(timestamp: str, now_s: int) -> bool:
    """A callback timestamp (epoch seconds, as text) more than :data:`MAX_AGE_S` away."""
    return not timestamp.isdigit() or abs(now_s - int(timestamp)) > MAX_AGE_S
