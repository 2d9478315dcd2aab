"""Time windows as a generic wrapper: a rolling count over a period, in event time.

`RollingCount(period, resolution)` keeps counts in buckets of ``resolution``
seconds and sums those younger than ``period``; it never reads a clock (the
caller passes event time), is bounded in memory (``period / resolution``
buckets), and merges (``+=``) so state can shard by account or be seeded
from aggregates.

>>> window = RollingCount(period=3600, resolution=60)
>>> window.add(0.0); window.add(30.0); window.add(3599.0)
>>> window.total(3599.0)
3.0
>>> window.total(3660.0)  # the first minute's bucket has left the hour
1.0
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["RollingCount"]


class RollingCount:
    """Events counted over the last ``period`` seconds, at ``resolution`` granularity."""

    __slots__ = ("_buckets", "_total", "period", "resolution")

    def __init__(self, period: float, resolution: float) -> None:
        if not 0 < resolution <= period:
            raise ValueError("resolution: must be positive and at most the period")
        self.period = period
        self.resolution = resolution
        self._buckets: deque[list[float]] = deque()  # [bucket start, count]
        self._total = 0.0

    def _expire(self, now: float) -> None:
        horizon = now - self.period
        buckets = self._buckets
        while buckets and buckets[0][0] + self.resolution <= horizon:
            self._total -= buckets.popleft()[1]
        if not buckets:
            self._total = 0.0  # subtracting float amounts drifts: an empty window counts nothing

    def add(self, now: float, amount: float = 1.0) -> None:
        """Count ``amount`` at event time ``now`` (times must not go backwards by more
        than a bucket; older additions land in the newest bucket)."""
        start = now - now % self.resolution
        buckets = self._buckets
        if buckets and buckets[-1][0] >= start:
            buckets[-1][1] += amount
        else:
            buckets.append([start, amount])
        self._total += amount
        self._expire(now)

    def total(self, now: float) -> float:
        """The count over ``(now - period, now]``, to the resolution."""
        self._expire(now)
        return self._total

    def __iadd__(self, other: RollingCount) -> RollingCount:
        if (other.period, other.resolution) != (self.period, self.resolution):
            raise ValueError("cannot merge windows of different shapes")
        merged: dict[float, float] = {}
        for start, count in (*self._buckets, *other._buckets):
            merged[start] = merged.get(start, 0.0) + count
        self._buckets = deque([start, count] for start, count in sorted(merged.items()))
        self._total = sum(count for _, count in self._buckets)
        return self

    def to_state(self) -> dict[str, Any]:
        """A plain snapshot of the window."""
        return {
            "period": self.period,
            "resolution": self.resolution,
            "buckets": [list(b) for b in self._buckets],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RollingCount:
        """Rebuild a window from `to_state` output."""
        window = cls(state["period"], state["resolution"])
        window._buckets = deque([float(s), float(c)] for s, c in state["buckets"])
        window._total = sum(c for _, c in window._buckets)
        return window

    def __len__(self) -> int:
        return len(self._buckets)
