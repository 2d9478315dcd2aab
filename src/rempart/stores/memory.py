"""The in-process state store: dictionaries with expiry and a bound on the number of keys.

>>> from rempart.stores.base import Window, Write
>>> store = MemoryStore(max_keys=1_000)
>>> hour = Window(3600, 60)
>>> store.add_counts("unexplained:A1", 0.0, (hour,))
(1.0,)
>>> store.add_member("seen:A1", "ps_x", 0.0, ttl=86_400)
True
>>> store.has_member("seen:A1", "ps_x", 90_000.0)  # expired a day later
False
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from rempart.errors import ConfigError
from rempart.stores.base import Window, Write
from rempart.windows import RollingCount

__all__ = ["MemoryStore"]

_NEVER = float("inf")


class MemoryStore:
    """A bounded in-memory `StateStore`.

    Keys expire with their TTL (counters once their newest bucket has left
    every window: a period plus a resolution after their last addition). When
    more than ``max_keys`` keys are held, the least recently written keys are
    evicted first, so memory stays bounded whatever the traffic.
    """

    def __init__(self, max_keys: int = 5_000_000) -> None:
        if max_keys < 1:
            raise ConfigError("max_keys", "a positive integer", max_keys)
        self.max_keys = max_keys
        # key -> [expiry, payload]; dict order is write order (oldest first).
        self._entries: dict[str, list[Any]] = {}
        self._horizons: dict[tuple[Window, ...], float] = {}
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: str, now: float) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[key]
            return None
        return entry[1]

    def _write(self, key: str, payload: Any, expiry: float) -> None:
        entries = self._entries
        entries.pop(key, None)
        entries[key] = [expiry, payload]
        if len(entries) > self.max_keys:
            oldest = next(iter(entries))
            del entries[oldest]
            self.evictions += 1

    def add_counts(
        self, key: str, now: float, windows: tuple[Window, ...], amount: float = 1.0
    ) -> tuple[float, ...]:
        counters: list[RollingCount] | None = self._live(key, now)
        if counters is None:
            counters = [RollingCount(w.period, w.resolution) for w in windows]
        for counter in counters:
            counter.add(now, amount)
        horizon = self._horizons.get(windows)
        if horizon is None:
            # The newest bucket still counts until period + resolution after its start.
            horizon = self._horizons[windows] = max(w.period + w.resolution for w in windows)
        self._write(key, counters, now + horizon)
        return tuple(counter.total(now) for counter in counters)

    def counts(self, key: str, now: float, windows: tuple[Window, ...]) -> tuple[float, ...]:
        counters: list[RollingCount] | None = self._live(key, now)
        if counters is None:
            return tuple(0.0 for _ in windows)
        return tuple(counter.total(now) for counter in counters)

    def add_member(self, key: str, member: str, now: float, ttl: float) -> bool:
        entry = self._entries.get(key)
        until = now + ttl
        members: dict[str, float]
        if entry is None or entry[0] <= now:
            members = {}
            expiry = until
        else:
            members = entry[1]
            # The set lives as long as its longest-lived member.
            expiry = entry[0] if entry[0] > until else until
        previous = members.get(member)
        members[member] = until
        # Always rewrite, so the set counts as recently written for eviction.
        self._write(key, members, expiry)
        return previous is None or previous <= now

    def has_member(self, key: str, member: str, now: float) -> bool:
        members: dict[str, float] | None = self._live(key, now)
        if members is None:
            return False
        expiry = members.get(member)
        return expiry is not None and expiry > now

    def member_count(self, key: str, now: float) -> int:
        members: dict[str, float] | None = self._live(key, now)
        if members is None:
            return 0
        stale = [m for m, expiry in members.items() if expiry <= now]
        for member in stale:
            del members[member]
        return len(members)

    def apply(self, writes: Sequence[Write]) -> None:
        """Carry out ``writes`` in order (one process: nothing can come in between)."""
        for write in writes:
            getattr(self, write.method)(*write.args)

    def get(self, key: str, now: float) -> Any:
        return self._live(key, now)

    def put(self, key: str, value: Any, now: float, ttl: float) -> None:
        self._write(key, value, now + ttl)

    def snapshot(self) -> bytes:
        state = []
        for key, (expiry, payload) in self._entries.items():
            if isinstance(payload, list) and payload and isinstance(payload[0], RollingCount):
                state.append([key, expiry, "w", [c.to_state() for c in payload]])
            elif isinstance(payload, dict):
                state.append([key, expiry, "s", payload])
            else:
                state.append([key, expiry, "v", payload])
        return msgspec.msgpack.encode({"max_keys": self.max_keys, "entries": state})

    def restore(self, data: bytes) -> None:
        decoded = msgspec.msgpack.decode(data)
        entries: dict[str, list[Any]] = {}
        for key, expiry, kind, payload in decoded["entries"]:
            if kind == "w":
                entries[key] = [expiry, [RollingCount.from_state(s) for s in payload]]
            else:
                entries[key] = [expiry, payload]
        self._entries = entries
