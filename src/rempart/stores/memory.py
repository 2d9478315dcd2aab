"""The in-process state store: dictionaries with expiry and a bound on the number of keys.

Memory is bounded two ways. Expired keys are swept as the store is written:
each write looks at the few entries due soonest (an expiry heap, at most
`SWEEP_PER_WRITE` of them) and drops those expired at the write's time, so
the work per call is bounded and a flood of short-lived keys (failed logins
from ever-new accounts and addresses) leaves no expired key behind once
time moves on. And at most ``max_keys`` keys are held: beyond, the least
recently written are evicted. A key costs roughly 1 KB (a counter's rolling
windows are the heaviest; ``tests/stores/test_memory_store.py`` measures
it), so ``max_keys`` sets the bound: about 1 GB per million keys.

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

import heapq
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from rempart.errors import ConfigError
from rempart.stores.base import Window, Write
from rempart.windows import RollingCount

__all__ = ["SWEEP_PER_WRITE", "MemoryStore"]

_NEVER = float("inf")

SWEEP_PER_WRITE: Final = 4
"""Entries of the expiry heap a write looks at, at most: each write adds at most one."""


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
        # key -> [expiry, payload, armed]; dict order is write order (oldest first).
        # ``armed`` is the time of the key's item in the expiry heap: an item whose time
        # is not its key's ``armed`` is stale (the key was rewritten or deleted).
        self._entries: dict[str, list[Any]] = {}
        self._expiries: list[tuple[float, str]] = []
        self._horizons: dict[tuple[Window, ...], float] = {}
        self.evictions = 0
        self.swept = 0

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

    def _write(self, key: str, payload: Any, expiry: float, now: float) -> None:
        entries = self._entries
        previous = entries.pop(key, None)
        if previous is not None and previous[2] <= expiry:
            # Its heap item comes first; when it does, it is re-armed at the real expiry.
            entries[key] = [expiry, payload, previous[2]]
        else:
            entries[key] = [expiry, payload, expiry]
            if expiry != _NEVER:
                heapq.heappush(self._expiries, (expiry, key))
                # Stale items of evicted or deleted keys: rebuilt once they outnumber the keys.
                if len(self._expiries) > 2 * len(entries) + 1_024:
                    self._rearm()
        if len(entries) > self.max_keys:
            oldest = next(iter(entries))
            del entries[oldest]
            self.evictions += 1
        heap = self._expiries
        if heap and heap[0][0] <= now:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Drop the keys expired at ``now`` among the few due soonest (bounded work)."""
        heap, entries = self._expiries, self._entries
        for _ in range(SWEEP_PER_WRITE):
            if not heap or heap[0][0] > now:
                return
            armed, key = heapq.heappop(heap)
            entry = entries.get(key)
            if entry is None or entry[2] != armed:
                continue  # stale: the key is gone, or another item stands for it
            if entry[0] <= now:
                del entries[key]
                self.swept += 1
            else:  # written since with a later expiry: wait for that one
                entry[2] = entry[0]
                heapq.heappush(heap, (entry[0], key))

    def _rearm(self) -> None:
        """One heap item per key, at its expiry (keys that never expire have none)."""
        self._expiries = [
            (entry[0], key) for key, entry in self._entries.items() if entry[0] != _NEVER
        ]
        heapq.heapify(self._expiries)
        for entry in self._entries.values():
            entry[2] = entry[0]

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
        self._write(key, counters, now + horizon, now)
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
        previous = members.pop(member, None)
        members[member] = until
        # Members are kept in the order of their last addition: with one lifetime per set
        # (each caller uses one), the first are the first to expire. Dropping up to two of
        # them per addition keeps a long-lived set from hoarding expired members (Redis
        # drops them on every addition too), at a bounded cost.
        for _ in range(2):
            first = next(iter(members))
            if members[first] > now:
                break
            del members[first]
        # Always rewrite, so the set counts as recently written for eviction.
        self._write(key, members, expiry, now)
        return previous is None or previous <= now

    def remove_member(self, key: str, member: str, now: float) -> bool:
        members: dict[str, float] | None = self._live(key, now)
        if members is None:
            return False
        expiry = members.pop(member, None)
        if not members:
            del self._entries[key]
        return expiry is not None and expiry > now

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
        self._write(key, value, now + ttl, now)

    def snapshot(self) -> bytes:
        state = []
        for key, (expiry, payload, _) in self._entries.items():
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
                entries[key] = [expiry, [RollingCount.from_state(s) for s in payload], expiry]
            else:
                entries[key] = [expiry, payload, expiry]
        self._entries = entries
        self._rearm()
