"""Deferring a decision's updates so they reach the store together, atomically.

The guard scores an event against the store as it stands, then lets every
detector learn. `BatchingStore` passes reads straight through; between
`begin` and `commit` it queues updates instead and hands them to the store's
`apply` in one go: one round trip and one transaction on Redis, so guard
instances sharing a store never see half a decision. Detectors therefore read,
while learning, the state as it was before the decision: none of them reads
back what it has just written.

>>> from rempart.stores.base import Window
>>> from rempart.stores.memory import MemoryStore
>>> store = BatchingStore(MemoryStore())
>>> store.begin()
>>> store.put("k", 1, 0.0, 60.0)
>>> store.get("k", 0.0) is None  # not written yet
True
>>> store.commit()
>>> store.get("k", 0.0)
1
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from rempart.stores.base import StateStore, Window, Write

__all__ = ["BatchingStore", "ConcurrentBatchingStore", "batching_for"]


def batching_for(store: StateStore) -> BatchingStore:
    """A `BatchingStore` over ``store``: one batch per thread when ``store`` is ``concurrent``.

    Chosen once, so that a guard over a `MemoryStore` (not thread-safe,
    called under its caller's lock) pays nothing for threads it never has.
    """
    if getattr(store, "concurrent", False):
        return ConcurrentBatchingStore(store)
    return BatchingStore(store)


class BatchingStore:
    """A `StateStore` whose updates can be held back and applied as one batch.

    While a batch is open, ``add_counts`` returns no totals (an empty tuple)
    and ``add_member`` and ``remove_member`` return True: callers that learn
    must not depend on them.
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._pending: list[Write] | None = None

    def begin(self) -> None:
        """Hold back updates from now on."""
        self._pending = []

    def commit(self) -> None:
        """Apply the held-back updates in one batch, and stop holding back."""
        pending, self._pending = self._pending, None
        if pending:
            self.store.apply(pending)

    def add_counts(
        self, key: str, now: float, windows: tuple[Window, ...], amount: float = 1.0
    ) -> tuple[float, ...]:
        if self._pending is not None:
            self._pending.append(Write("add_counts", (key, now, windows, amount)))
            return ()
        return self.store.add_counts(key, now, windows, amount)

    def counts(self, key: str, now: float, windows: tuple[Window, ...]) -> tuple[float, ...]:
        return self.store.counts(key, now, windows)

    def add_member(self, key: str, member: str, now: float, ttl: float) -> bool:
        if self._pending is not None:
            self._pending.append(Write("add_member", (key, member, now, ttl)))
            return True
        return self.store.add_member(key, member, now, ttl)

    def remove_member(self, key: str, member: str, now: float) -> bool:
        if self._pending is not None:
            self._pending.append(Write("remove_member", (key, member, now)))
            return True
        return self.store.remove_member(key, member, now)

    def has_member(self, key: str, member: str, now: float) -> bool:
        return self.store.has_member(key, member, now)

    def member_count(self, key: str, now: float) -> int:
        return self.store.member_count(key, now)

    def get(self, key: str, now: float) -> Any:
        return self.store.get(key, now)

    def put(self, key: str, value: Any, now: float, ttl: float) -> None:
        if self._pending is not None:
            self._pending.append(Write("put", (key, value, now, ttl)))
            return
        self.store.put(key, value, now, ttl)

    def apply(self, writes: Sequence[Write]) -> None:
        self.store.apply(writes)

    def snapshot(self) -> bytes:
        return self.store.snapshot()

    def restore(self, data: bytes) -> None:
        self.store.restore(data)


class ConcurrentBatchingStore(BatchingStore):
    """A `BatchingStore` whose batch is the calling thread's own.

    Over a thread-safe store (`RedisStore`), one guard then serves many
    threads at once: each decision's updates are held back and applied on
    its own, and no lock is held while the store answers.
    """

    def __init__(self, store: StateStore) -> None:
        self._batches = threading.local()
        super().__init__(store)

    @property
    def _pending(self) -> list[Write] | None:
        pending: list[Write] | None = getattr(self._batches, "pending", None)
        return pending

    @_pending.setter
    def _pending(self, value: list[Write] | None) -> None:
        self._batches.pending = value
