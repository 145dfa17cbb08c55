"""Token buckets per write key and per client IP on the beacon routes.

Each bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a
request takes one. An empty bucket refuses with the seconds until a token is back
(``429`` + ``Retry-After``). Pure: the caller passes ``now``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from siyu.settings import CollectorSettings

__all__ = ["Buckets", "RateLimits", "Refusal"]


class Buckets:
    """Token buckets by key; at most ``max_keys`` held (the longest untouched go first)."""

    def __init__(self, *, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.max_keys = max_keys
        self._held: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        tokens, at = self._held.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._held[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._held[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        while len(self._held) > self.max_keys:
            del self._held[next(iter(self._held))]
        return wait

    def __len__(self) -> int:
        return len(self._held)


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: str
    """``key`` or ``ip``."""
    retry_after_s: int


class RateLimits:
    """The collector's two limits (``SIYU_COLLECTOR_RATE_*``)."""

    def __init__(self, settings: CollectorSettings) -> None:
        self.per_key = Buckets(rate=settings.rate_per_key, burst=settings.burst_per_key)
        self.per_ip = Buckets(rate=settings.rate_per_ip, burst=settings.burst_per_ip)

    def check(self, project: str, ip: str, now: float) -> Refusal | None:
        wait = self.per_ip.take(ip, now)
        if wait:
            return Refusal("ip", max(1, math.ceil(wait)))
        wait = self.per_key.take(project, now)
        if wait:
            return Refusal("key", max(1, math.ceil(wait)))
        return None
