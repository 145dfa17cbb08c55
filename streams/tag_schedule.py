"""When each user of this worker next needs a timer evaluation.

A heap of ``(due, user)`` with lazy deletion: rescheduling a user pushes a new entry and
leaves the old one to be skipped when it surfaces. The heap is compacted when stale
entries outnumber live ones, so memory stays proportional to the users scheduled. Kept in
memory only: it is rebuilt from the table (``profile["due"]``) after a restart or a
rebalance.
"""

from __future__ import annotations

import heapq

__all__ = ["DueSchedule"]


class DueSchedule:
    def __init__(self) -> None:
        self._due: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def set(self, user: str, due: int) -> None:
        """Schedule ``user`` at ``due`` (epoch ms); 0 or less unschedules."""
        if due <= 0:
            self._due.pop(user, None)
            return
        if self._due.get(user) == due:
            return
        self._due[user] = due
        heapq.heappush(self._heap, (due, user))
        if len(self._heap) > 2 * len(self._due) + 1024:
            self._heap = [(d, u) for u, d in self._due.items()]
            heapq.heapify(self._heap)

    def pop_due(self, now: int, limit: int = 10_000) -> list[str]:
        """Users due at or before ``now`` (at most ``limit``), removed from the schedule."""
        found: list[str] = []
        heap = self._heap
        while heap and heap[0][0] <= now and len(found) < limit:
            due, user = heapq.heappop(heap)
            if self._due.get(user) == due:
                del self._due[user]
                found.append(user)
        return found

    def clear(self) -> None:
        self._due.clear()
        self._heap.clear()
